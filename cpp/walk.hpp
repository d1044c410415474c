// knowledge-mixer engine: relation-labelled random walks over the CSR graph.
//
// Plain C++17, no Python. Every kernel writes into caller-allocated arrays nodes[W, L+1] and
// rels[W, L] (row-major), padding with -1 after a dead end. Walk w starts at starts[w / n_walks].
// Randomness: walk w owns a SplitMix64 stream seeded from (seed, w), so the result does not depend
// on how walks are split over threads or blocked for latency hiding. A caller may compute any
// contiguous range [first, first + count) of the walks (output row 0 is walk `first`): streaming
// writers walk a large batch chunk by chunk and get exactly the walks of one big call.
//
// The uniform, weighted and restart kernels advance a block of walks in lock-step: first every walk
// in the block picks its edge and prefetches it, then every walk reads its edge and prefetches its
// next row. The block's memory accesses overlap instead of each step waiting for the last one.
// node2vec uses rejection sampling (KnightKing): propose an edge uniformly, accept it with
// probability alpha(prev, x) / max(alpha), where "x is a neighbour of prev" is a binary search in a
// per-row copy of dst sorted by dst (rows themselves are sorted by (rel, dst)). It too runs a block
// of walks in lock-step, one proposal per walk per round. block = 1 selects the plain one-walk-at-a-
// time loops, which give identical output (each walk consumes its own stream in the same order).
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "graph.hpp"
#include "parallel.hpp"

namespace km {

// Relation id recorded for a restart (teleport back to the start node) in restart mode.
constexpr rel_t WALK_RESTART = -2;

enum class WalkMode : int { uniform = 0, weighted = 1, node2vec = 2, restart = 3 };

// SplitMix64 (Steele, Lea, Flood 2014): 64-bit state, passes BigCrush, one add + three mixes per draw.
struct SplitMix64 {
    uint64_t s;
    static uint64_t mix(uint64_t z) {
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    // The stream of walk `w` under `seed`: decorrelated by hashing both through the mixer.
    static SplitMix64 for_walk(uint64_t seed, uint64_t w) {
        return SplitMix64{mix(mix(seed ^ 0x6a09e667f3bcc909ULL) + w * 0x9e3779b97f4a7c15ULL)};
    }
    uint64_t next() { return mix(s += 0x9e3779b97f4a7c15ULL); }
    // Uniform integer in [0, n), n >= 1: Lemire's multiply-shift with the rejection step (unbiased).
    uint64_t below(uint64_t n) {
        unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
        uint64_t lo = static_cast<uint64_t>(m);
        if (lo < n) {
            const uint64_t t = (0 - n) % n;
            while (lo < t) {
                m = static_cast<unsigned __int128>(next()) * n;
                lo = static_cast<uint64_t>(m);
            }
        }
        return static_cast<uint64_t>(m >> 64);
    }
    double uniform() { return (next() >> 11) * 0x1.0p-53; }  // [0, 1)
};

struct WalkParams {
    WalkMode mode = WalkMode::uniform;
    double p = 1.0, q = 1.0;   // node2vec return / in-out parameters
    double alpha = 0.0;        // restart probability per step
    uint64_t seed = 0;
    int threads = 1;
    int block = 64;            // walks advanced in lock-step
};

// Auxiliary per-edge arrays some modes need (built once by the caller, see below).
struct WalkAux {
    const double* cumw = nullptr;        // weighted: per-row inclusive prefix sums of the weights
    const node_t* sorted_dst = nullptr;  // node2vec: per-row copy of dst sorted by dst
    const int32_t* packed = nullptr;     // all modes: (dst, rel) interleaved per edge, one cache miss per step
};

// dst and rel interleaved ([2 * n_edges]: dst of edge e at 2e, its rel at 2e + 1). With it a step reads
// one cache line instead of two, which is most of the cost of a relation-labelled step.
inline std::vector<int32_t> packed_edges(const CSRView& g) {
    std::vector<int32_t> p(2 * g.n_edges);
    for (int64_t e = 0; e < g.n_edges; ++e) { p[2 * e] = g.dst[e]; p[2 * e + 1] = g.rel[e]; }
    return p;
}

// Per-row inclusive prefix sums of the edge weights (weighted mode). Throws on negative or NaN weights.
inline std::vector<double> row_cumulative_weights(const CSRView& g) {
    std::vector<double> c(g.n_edges);
    for (int64_t v = 0; v < g.n_nodes; ++v) {
        double acc = 0;
        for (int64_t e = g.indptr[v]; e < g.indptr[v + 1]; ++e) {
            const float w = g.weight[e];
            if (!(w >= 0) || !std::isfinite(w))
                throw std::invalid_argument("edge " + std::to_string(e) + ": weight must be finite and >= 0");
            acc += w;
            c[e] = acc;
        }
    }
    return c;
}

// A per-row copy of dst sorted by dst, for "is x a neighbour of v" by binary search (node2vec).
inline std::vector<node_t> row_sorted_dst(const CSRView& g) {
    std::vector<node_t> s(g.dst, g.dst + g.n_edges);
    for (int64_t v = 0; v < g.n_nodes; ++v) std::sort(s.begin() + g.indptr[v], s.begin() + g.indptr[v + 1]);
    return s;
}

namespace detail {

struct WalkOut {
    node_t* nodes;  // [count, L+1]
    rel_t* rels;    // [count, L]
    int64_t length;
    std::atomic<bool>* bad;  // set when the CSR arrays hold an out-of-range value
    int64_t first = 0;       // global index of the walk in output row 0
    node_t* nrow(int64_t w) const { return nodes + (w - first) * (length + 1); }  // walk w's node row
    rel_t* rrow(int64_t w) const { return rels + (w - first) * length; }          // walk w's relation row
};

inline void pad_from(const WalkOut& o, int64_t w, int64_t t) {
    // Walk w stopped at node index t: nodes[t+1:] and rels[t:] become -1.
    const int64_t L = o.length;
    std::fill(o.nrow(w) + t + 1, o.nrow(w) + L + 1, node_t(-1));
    std::fill(o.rrow(w) + t, o.rrow(w) + L, rel_t(-1));
}

inline bool row_ok(const CSRView& g, int64_t lo, int64_t hi) { return 0 <= lo && lo <= hi && hi <= g.n_edges; }

// Sample an edge of row [lo, hi) in proportion to its weight; -1 when the row's total weight is 0.
inline int64_t weighted_edge(const double* cumw, int64_t lo, int64_t hi, SplitMix64& rng) {
    const double total = cumw[hi - 1];
    if (!(total > 0)) return -1;
    const double u = rng.uniform() * total;
    int64_t k = std::upper_bound(cumw + lo, cumw + hi, u) - cumw;
    if (k >= hi) {  // u rounded up to the total: take the last edge with positive weight
        k = hi - 1;
        while (k > lo && cumw[k] == cumw[k - 1]) --k;
    }
    return k;
}

// Lock-step kernel for the uniform, weighted and restart modes, walks [w0, w1).
// A block's rows are built in a small local tile (nodes, rels) and copied out in one contiguous piece
// when the block is done: walks w0.., w0+nb-1 own consecutive output rows. A dead walk carries
// cur = -1, which the loop turns into -1 padding without a branch of its own.
template <WalkMode Mode>
void lockstep_walks(const CSRView& g, const WalkAux& aux, const node_t* starts, int64_t n_walks,
                    const WalkParams& P, const WalkOut& o, int64_t w0, int64_t w1) {
    constexpr int MAXB = 64;
    const int64_t L = o.length;
    int B = std::max(1, std::min(P.block, MAXB));
    // Keep the tile within ~1 MiB (L2); very long walks use smaller blocks.
    while (B > 1 && static_cast<int64_t>(B) * (2 * L + 1) * 4 > (int64_t(1) << 20)) B /= 2;
    const bool tiled = static_cast<int64_t>(B) * (2 * L + 1) * 4 <= (int64_t(1) << 20);
    std::vector<node_t> tile_n(tiled ? static_cast<size_t>(B) * (L + 1) : 0);
    std::vector<rel_t> tile_r(tiled ? static_cast<size_t>(B) * L : 0);
    const node_t n = static_cast<node_t>(g.n_nodes);
    const int64_t m = g.n_edges;
    const int64_t* indptr = g.indptr;
    const int32_t* packed = aux.packed;
    node_t cur[MAXB], start[MAXB];
    int64_t edge[MAXB];
    SplitMix64 rng[MAXB];
    bool bad = false;
    for (int64_t b0 = w0; b0 < w1; b0 += B) {
        const int nb = static_cast<int>(std::min<int64_t>(B, w1 - b0));
        node_t* __restrict tn = tiled ? tile_n.data() : o.nrow(b0);
        rel_t* __restrict tr = tiled ? tile_r.data() : o.rrow(b0);
        int64_t si = b0 / n_walks, sk = b0 % n_walks;  // walk b0 + j is walk sk of start si (no division per walk)
        for (int j = 0; j < nb; ++j) {
            start[j] = cur[j] = starts[si];
            if (++sk == n_walks) { sk = 0; ++si; }
            rng[j] = SplitMix64::for_walk(P.seed, static_cast<uint64_t>(b0 + j));
            tn[j * (L + 1)] = cur[j];
            __builtin_prefetch(indptr + cur[j]);
        }
        for (int64_t t = 0; t < L; ++t) {
            // Phase 1: every live walk picks an edge (-1: none, -2: restart) and prefetches it.
            for (int j = 0; j < nb; ++j) {
                if (cur[j] < 0) { edge[j] = -1; continue; }
                if constexpr (Mode == WalkMode::restart) {
                    if (P.alpha > 0 && rng[j].uniform() < P.alpha) { edge[j] = -2; continue; }
                }
                const int64_t lo = indptr[cur[j]], hi = indptr[cur[j] + 1];
                // 0 <= lo <= hi <= m in two unsigned comparisons
                if (static_cast<uint64_t>(lo) > static_cast<uint64_t>(hi) || static_cast<uint64_t>(hi) > static_cast<uint64_t>(m)) {
                    bad = true; edge[j] = -1; continue;
                }
                int64_t k;
                if constexpr (Mode == WalkMode::weighted) k = hi > lo ? weighted_edge(aux.cumw, lo, hi, rng[j]) : -1;
                else k = hi > lo ? lo + static_cast<int64_t>(rng[j].below(static_cast<uint64_t>(hi - lo))) : -1;
                edge[j] = k;
                if (k >= 0) __builtin_prefetch(packed + 2 * k);
            }
            // Phase 2: every walk takes its edge, records it and prefetches its next row.
            for (int j = 0; j < nb; ++j) {
                const int64_t k = edge[j];
                node_t nxt = -1;
                rel_t r = -1;
                if (k >= 0) {
                    nxt = packed[2 * k];
                    r = packed[2 * k + 1];
                    if (static_cast<uint32_t>(nxt) >= static_cast<uint32_t>(n)) { bad = true; nxt = r = -1; }
                } else if (Mode == WalkMode::restart && k == -2) {
                    nxt = start[j];
                    r = WALK_RESTART;
                }
                tn[j * (L + 1) + t + 1] = nxt;
                tr[j * L + t] = r;
                cur[j] = nxt;
                if (nxt >= 0) __builtin_prefetch(indptr + nxt);
            }
        }
        if (tiled) {
            std::memcpy(o.nrow(b0), tn, sizeof(node_t) * nb * (L + 1));
            if (L > 0) std::memcpy(o.rrow(b0), tr, sizeof(rel_t) * nb * L);  // length 0: no relation array
        }
    }
    if (bad) o.bad->store(true);
}

// node2vec's second-order bias (Grover & Leskovec 2016) for a step cur -> x after prev -> cur: weight 1/p
// back to prev, 1 to a neighbour of prev, 1/q further out. Both node2vec kernels decide through this one
// struct, so the one-walk loop and the lock-step one cannot drift apart.
struct Node2VecBias {
    double a_ret, a_out;  // 1/p, 1/q
    double amax;          // the largest weight: a proposal is accepted with probability weight / amax
    double a_sure;        // a non-return proposal with u below this is accepted whatever x is
    double a_none;        // ... and from this on it is rejected whatever x is
    Node2VecBias(double p, double q)
        : a_ret(1.0 / p), a_out(1.0 / q), amax(std::max({a_ret, 1.0, a_out})), a_sure(std::min(1.0, a_out)),
          a_none(std::max(1.0, a_out)) {}
    // prev's row in the dst-sorted copy, [pb, pe): "x is a neighbour of prev" is a binary search in it.
    double weight(node_t x, node_t prev, const node_t* pb, const node_t* pe) const {
        return x == prev ? a_ret : (std::binary_search(pb, pe, x) ? 1.0 : a_out);
    }
    // The rejection test for proposal x with u uniform in [0, amax): the two bounds settle most proposals, so
    // adjacent(x) (the binary search in prev's row, the step's one extra cache miss) runs only when they do not.
    template <typename Adjacent>
    bool accept(double u, node_t x, node_t prev, Adjacent&& adjacent) const {
        if (x == prev) return u < a_ret;
        if (u < a_sure) return true;
        if (u >= a_none) return false;
        return u < (adjacent(x) ? 1.0 : a_out);
    }
};

// Rejections a walk may meet in one step before it draws from the exact distribution instead: extreme p/q
// would otherwise make a step's expected number of proposals unbounded.
constexpr int kNode2VecTries = 64;

// The exact draw over row [lo, hi) after kNode2VecTries rejections: O(degree log degree) once, whatever
// the bias. `exact` is the caller's scratch, reused across steps.
inline int64_t node2vec_exact_edge(const Node2VecBias& bias, const int32_t* packed, int64_t lo, int64_t hi,
                                   node_t prev, const node_t* pb, const node_t* pe, SplitMix64& rng,
                                   std::vector<double>& exact) {
    exact.resize(hi - lo);
    double acc = 0;
    for (int64_t e = lo; e < hi; ++e) {
        acc += bias.weight(packed[2 * e], prev, pb, pe);
        exact[e - lo] = acc;
    }
    const double u = rng.uniform() * acc;
    return lo + std::min<int64_t>(std::upper_bound(exact.begin(), exact.end(), u) - exact.begin(), hi - lo - 1);
}

// One node2vec step of a walk at cur, row [lo, hi) with hi > lo: the first step (no prev) is uniform; later
// ones propose uniform edges until one passes the bias test. Returns the chosen edge.
inline int64_t node2vec_step(const Node2VecBias& bias, const CSRView& g, const WalkAux& aux, int64_t lo, int64_t hi,
                             node_t prev, SplitMix64& rng, std::vector<double>& exact) {
    const uint64_t deg = static_cast<uint64_t>(hi - lo);
    if (prev < 0) return lo + static_cast<int64_t>(rng.below(deg));
    const node_t* pb = aux.sorted_dst + g.indptr[prev];
    const node_t* pe = aux.sorted_dst + g.indptr[prev + 1];
    for (int tries = 0; tries < kNode2VecTries; ++tries) {
        const int64_t e = lo + static_cast<int64_t>(rng.below(deg));
        const double u = rng.uniform() * bias.amax;
        if (bias.accept(u, aux.packed[2 * e], prev, [&](node_t y) { return std::binary_search(pb, pe, y); })) return e;
    }
    return node2vec_exact_edge(bias, aux.packed, lo, hi, prev, pb, pe, rng, exact);
}

// node2vec by rejection sampling, one walk at a time, walks [w0, w1).
inline void node2vec_walks(const CSRView& g, const WalkAux& aux, const node_t* starts, int64_t n_walks,
                           const WalkParams& P, const WalkOut& o, int64_t w0, int64_t w1) {
    const int64_t L = o.length;
    const node_t n = static_cast<node_t>(g.n_nodes);
    const Node2VecBias bias(P.p, P.q);
    std::vector<double> exact;
    for (int64_t w = w0; w < w1; ++w) {
        SplitMix64 rng = SplitMix64::for_walk(P.seed, static_cast<uint64_t>(w));
        node_t cur = starts[w / n_walks], prev = -1;
        o.nrow(w)[0] = cur;
        for (int64_t t = 0; t < L; ++t) {
            const int64_t lo = g.indptr[cur], hi = g.indptr[cur + 1];
            if (!row_ok(g, lo, hi)) { o.bad->store(true); pad_from(o, w, t); break; }
            if (hi == lo) { pad_from(o, w, t); break; }
            const int64_t k = node2vec_step(bias, g, aux, lo, hi, prev, rng, exact);
            const node_t nxt = aux.packed[2 * k];
            if (nxt < 0 || nxt >= n) { o.bad->store(true); pad_from(o, w, t); break; }
            o.nrow(w)[t + 1] = nxt;
            o.rrow(w)[t] = aux.packed[2 * k + 1];
            prev = cur;
            cur = nxt;
        }
    }
}

// The lock-step node2vec kernel keeps one block of walks in these arrays, so each phase below is one tight
// loop over the block's live walks (act[0 .. n_act)) whose memory accesses overlap.
struct Node2VecBlock {
    static constexpr int MAXB = 64;
    node_t cur[MAXB], prev[MAXB];
    int64_t t[MAXB];               // steps taken
    int64_t edge[MAXB];            // this round's proposal, -1: dead end or corrupt row
    int64_t clo[MAXB], chi[MAXB];  // cur's row
    int64_t plo[MAXB], phi[MAXB];  // prev's row (in sorted_dst), for the neighbour test
    double uval[MAXB];             // this round's acceptance draw
    int tries[MAXB];               // rejections in the current step
    int act[MAXB];
    int n_act = 0;
    SplitMix64 rng[MAXB];
};

// Start walks b0 .. b0 + nb - 1 of the block: each at its start node, with its own stream.
inline void node2vec_block_start(Node2VecBlock& k, const node_t* starts, int64_t n_walks, const WalkParams& P,
                                 const WalkOut& o, const int64_t* indptr, int64_t b0, int nb) {
    int64_t si = b0 / n_walks, sk = b0 % n_walks;  // walk b0 + j is walk sk of start si (no division per walk)
    k.n_act = 0;
    for (int j = 0; j < nb; ++j) {
        k.cur[j] = starts[si];
        if (++sk == n_walks) { sk = 0; ++si; }
        k.prev[j] = -1; k.t[j] = 0; k.tries[j] = 0;
        k.rng[j] = SplitMix64::for_walk(P.seed, static_cast<uint64_t>(b0 + j));
        o.nrow(b0 + j)[0] = k.cur[j];
        if (o.length > 0) k.act[k.n_act++] = j;
        __builtin_prefetch(indptr + k.cur[j]);
    }
}

// Phase 1: every live walk proposes an edge and draws its acceptance value, prefetching the edge and the
// middle of prev's sorted row, where the neighbour test's binary search begins. Sets bad on a corrupt row.
inline void node2vec_block_propose(Node2VecBlock& k, const CSRView& g, const WalkAux& aux, const Node2VecBias& bias,
                                   bool& bad) {
    const int64_t* indptr = g.indptr;
    const int64_t m = g.n_edges;
    const double amax = bias.amax;
    for (int a = 0, n_act = k.n_act; a < n_act; ++a) {
        const int j = k.act[a];
        const int64_t lo = indptr[k.cur[j]], hi = indptr[k.cur[j] + 1];
        if (!(0 <= lo && lo <= hi && hi <= m)) { bad = true; k.edge[j] = -1; continue; }
        if (hi == lo) { k.edge[j] = -1; continue; }
        k.clo[j] = lo; k.chi[j] = hi;
        const int64_t e = lo + static_cast<int64_t>(k.rng[j].below(static_cast<uint64_t>(hi - lo)));
        k.edge[j] = e;
        __builtin_prefetch(aux.packed + 2 * e);
        if (k.prev[j] >= 0) {
            k.uval[j] = k.rng[j].uniform() * amax;
            __builtin_prefetch(aux.sorted_dst + ((k.plo[j] + k.phi[j]) >> 1));
        }
    }
}

// Phase 2: every live walk accepts its proposal (and steps) or rejects it (and stays live to propose again);
// after kNode2VecTries rejections in one step it takes the exact draw. Walks that stop are padded and leave
// the live list. Sets bad on an out-of-range target.
inline void node2vec_block_decide(Node2VecBlock& k, const CSRView& g, const WalkAux& aux, const Node2VecBias& bias,
                                  const WalkOut& o, int64_t b0, std::vector<double>& exact, bool& bad) {
    const node_t n = static_cast<node_t>(g.n_nodes);
    const int32_t* packed = aux.packed;
    const node_t* sdst = aux.sorted_dst;
    const int64_t L = o.length;
    int kept = 0;
    for (int a = 0, n_act = k.n_act; a < n_act; ++a) {
        const int j = k.act[a];
        const int64_t w = b0 + j;
        int64_t e = k.edge[j];
        if (e < 0) { pad_from(o, w, k.t[j]); continue; }  // dead end or corrupt row
        node_t x = packed[2 * e];
        const node_t prev = k.prev[j];
        auto adjacent = [&](node_t y) { return std::binary_search(sdst + k.plo[j], sdst + k.phi[j], y); };
        if (prev >= 0 && !bias.accept(k.uval[j], x, prev, adjacent)) {
            if (++k.tries[j] < kNode2VecTries) { k.act[kept++] = j; continue; }
            SplitMix64 rng = k.rng[j];  // a local copy keeps the block's arrays from escaping into the call
            e = node2vec_exact_edge(bias, packed, k.clo[j], k.chi[j], prev, sdst + k.plo[j], sdst + k.phi[j], rng, exact);
            k.rng[j] = rng;
            x = packed[2 * e];
        }
        if (x < 0 || x >= n) { bad = true; pad_from(o, w, k.t[j]); continue; }
        o.nrow(w)[k.t[j] + 1] = x;
        o.rrow(w)[k.t[j]] = packed[2 * e + 1];
        k.prev[j] = k.cur[j]; k.plo[j] = k.clo[j]; k.phi[j] = k.chi[j];
        k.cur[j] = x; k.tries[j] = 0;
        __builtin_prefetch(g.indptr + x);
        if (++k.t[j] < L) k.act[kept++] = j;
    }
    k.n_act = kept;
}

// node2vec by rejection sampling with a block of walks in lock-step: in each round every live walk
// proposes one edge, then every walk decides; an accepted walk advances one step, a rejected one proposes
// again next round. Each walk draws from its own stream in the same order as node2vec_walks, so the
// output is identical.
inline void node2vec_lockstep(const CSRView& g, const WalkAux& aux, const node_t* starts, int64_t n_walks,
                              const WalkParams& P, const WalkOut& o, int64_t w0, int64_t w1) {
    const int B = std::max(1, std::min(P.block, Node2VecBlock::MAXB));
    const Node2VecBias bias(P.p, P.q);
    Node2VecBlock k;
    std::vector<double> exact;
    bool bad = false;
    for (int64_t b0 = w0; b0 < w1; b0 += B) {
        node2vec_block_start(k, starts, n_walks, P, o, g.indptr, b0, static_cast<int>(std::min<int64_t>(B, w1 - b0)));
        while (k.n_act > 0) {
            node2vec_block_propose(k, g, aux, bias, bad);
            node2vec_block_decide(k, g, aux, bias, o, b0, exact, bad);
        }
    }
    if (bad) o.bad->store(true);
}

}  // namespace detail

// Fill nodes[W, L+1] and rels[W, L] with W = n_starts * n_walks walks of `length` steps; or, with
// first/count, only walks [first, first + count) of those W into nodes[count, L+1] and rels[count, L]
// (count < 0: to the end). Each walk is the same whatever range it is computed in.
// Preconditions (checked by the binding): starts in [0, n_nodes), aux.packed and the aux array the
// mode needs are present with one entry per edge, p, q > 0, alpha in [0, 1], 0 <= first <= W,
// first + count <= W. CSR content is checked as it is read: an out-of-range value
// stops that walk and the function throws std::out_of_range at the end.
inline void random_walks(const CSRView& g, const WalkAux& aux, const node_t* starts, int64_t n_starts,
                         int64_t n_walks, int64_t length, const WalkParams& P, node_t* nodes, rel_t* rels,
                         int64_t first = 0, int64_t count = -1) {
    const int64_t W = count < 0 ? n_starts * n_walks - first : count;
    if (W <= 0) return;
    std::atomic<bool> bad{false};
    detail::WalkOut o{nodes, rels, length, &bad, first};
    auto run = [&](int64_t w0, int64_t w1) {
        switch (P.mode) {
            case WalkMode::uniform: detail::lockstep_walks<WalkMode::uniform>(g, aux, starts, n_walks, P, o, w0, w1); break;
            case WalkMode::weighted: detail::lockstep_walks<WalkMode::weighted>(g, aux, starts, n_walks, P, o, w0, w1); break;
            case WalkMode::restart: detail::lockstep_walks<WalkMode::restart>(g, aux, starts, n_walks, P, o, w0, w1); break;
            case WalkMode::node2vec:
                if (P.block > 1) detail::node2vec_lockstep(g, aux, starts, n_walks, P, o, w0, w1);
                else detail::node2vec_walks(g, aux, starts, n_walks, P, o, w0, w1);
                break;
        }
    };
    // at least 256 walks per worker, else starting threads costs more than the walks; one even share each,
    // since every walk costs about the same
    const int workers = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(P.threads, W / 256 + 1)));
    parallel_for(W, workers, even_grain(W, workers), [&](int64_t w0, int64_t w1, int) { run(first + w0, first + w1); });
    if (bad.load()) throw std::out_of_range("the CSR arrays hold an out-of-range index (corrupt graph); validate it");
}

}  // namespace km
