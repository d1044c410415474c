// knowledge-mixer engine: the CSR knowledge graph.
//
// Plain C++17, no Python. A graph is three arrays (indptr, dst, rel) plus optional weights,
// rows sorted by (rel, dst) so "neighbours of v via r" is a binary search. The arrays are owned
// by the caller (numpy on the Python side); kernels only ever see a read-only CSRView.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "parallel.hpp"

namespace km {

using node_t = int32_t;
using rel_t = int32_t;

// The errors of CSRView's checked accessors, kept out of line so the kernels' loops stay tight.
[[noreturn]] __attribute__((noinline, cold)) inline void bad_row(int64_t v, int64_t lo, int64_t hi, int64_t n_edges) {
    throw std::out_of_range("the CSR arrays hold an out-of-range index (indptr[" + std::to_string(v) + ":" +
                            std::to_string(v + 2) + "] = " + std::to_string(lo) + ", " + std::to_string(hi) + " with " +
                            std::to_string(n_edges) + " edges); the graph is corrupt: validate it with validate_csr "
                            "or rebuild it with build_csr");
}

[[noreturn]] __attribute__((noinline, cold)) inline void bad_dst(int64_t e, int32_t w, int64_t n_nodes) {
    throw std::out_of_range("the CSR arrays hold an out-of-range index (dst[" + std::to_string(e) + "] = " +
                            std::to_string(w) + " with " + std::to_string(n_nodes) + " nodes); the graph is corrupt: "
                            "validate it with validate_csr or rebuild it with build_csr");
}

// Read-only view over CSR arrays that live elsewhere.
struct CSRView {
    int64_t n_nodes = 0;
    int64_t n_edges = 0;
    const int64_t* indptr = nullptr;   // [n_nodes + 1]
    const node_t* dst = nullptr;       // [n_edges]
    const rel_t* rel = nullptr;        // [n_edges]
    const float* weight = nullptr;     // [n_edges] or nullptr

    // The arrays may come from outside (numpy), so kernels that follow them read rows and neighbours
    // through these checked accessors: a corrupt value raises instead of reading out of bounds.
    // `v` itself must already be a valid node id (a checked input or a value returned by node_at).

    // Edge range [lo, hi) of v's out-edges; throws when indptr does not give 0 <= lo <= hi <= n_edges.
    std::pair<int64_t, int64_t> row(node_t v) const {
        const int64_t lo = indptr[v], hi = indptr[v + 1];
        // 0 <= lo <= hi <= n_edges in two unsigned compares
        if (__builtin_expect(static_cast<uint64_t>(lo) > static_cast<uint64_t>(hi) ||
                             static_cast<uint64_t>(hi) > static_cast<uint64_t>(n_edges), 0))
            bad_row(v, lo, hi, n_edges);
        return {lo, hi};
    }

    // The target of edge e (inside a checked row); throws when it is not a node id.
    node_t node_at(int64_t e) const {
        const node_t w = dst[e];
        // one unsigned compare: a negative id sign-extends to a huge value
        if (__builtin_expect(static_cast<uint64_t>(static_cast<int64_t>(w)) >= static_cast<uint64_t>(n_nodes), 0))
            bad_dst(e, w, n_nodes);
        return w;
    }

    int64_t degree(node_t v) const { auto [lo, hi] = row(v); return hi - lo; }

    // Edge range [lo, hi) of v's out-edges whose relation is r (rows are sorted by rel).
    std::pair<int64_t, int64_t> rel_range(node_t v, rel_t r) const {
        const auto [lo, hi] = row(v);
        const rel_t* b = rel + lo;
        const rel_t* e = rel + hi;
        auto range = std::equal_range(b, e, r);
        return {range.first - rel, range.second - rel};
    }

    // True when v has an edge (v, r, u); binary search on the packed (rel, dst) order.
    bool has_edge(node_t v, rel_t r, node_t u) const {
        auto [lo, hi] = rel_range(v, r);
        return std::binary_search(dst + lo, dst + hi, u);
    }
};

// The arrays of a built graph, before they are handed to Python.
struct CSRArrays {
    std::vector<int64_t> indptr;
    std::vector<node_t> dst;
    std::vector<rel_t> rel;
    std::vector<float> weight;  // empty when unweighted
};

inline uint64_t pack_key(rel_t r, node_t d) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(r)) << 32) | static_cast<uint32_t>(d);
}

inline void check_triples(const node_t* heads, const rel_t* rels, const node_t* tails, int64_t m,
                          int64_t n_nodes, int64_t n_rels) {
    for (int64_t i = 0; i < m; ++i) {
        if (heads[i] < 0 || heads[i] >= n_nodes || tails[i] < 0 || tails[i] >= n_nodes)
            throw std::out_of_range("triple " + std::to_string(i) + ": entity id out of range [0, " +
                                    std::to_string(n_nodes) + ")");
        if (rels[i] < 0 || rels[i] >= n_rels)
            throw std::out_of_range("triple " + std::to_string(i) + ": relation id out of range [0, " +
                                    std::to_string(n_rels) + ")");
        if (rels[i] & 1)
            throw std::invalid_argument("triple " + std::to_string(i) +
                                        ": forward relation ids must be even (odd ids are the inverses)");
    }
}

// Relation ids are interleaved: relation k is 2k forward and 2k + 1 traversed backwards (~k), so
// adding a relation later never renumbers the inverse ones.
inline rel_t inverse_rel(rel_t r) { return r ^ 1; }

// Rough peak memory (bytes) of build_csr / update_csr: three int64 arrays per node (counts, kept rows, indptr),
// and per stored edge a 64-bit key plus dst and rel (and the weight twice). The bindings refuse a build
// past their max_bytes, so an absurd n_nodes is an error, not an out-of-memory kill.
inline double csr_build_bytes(int64_t n_nodes, int64_t n_edges, bool weighted) {
    return 24.0 * (static_cast<double>(n_nodes) + 1) + static_cast<double>(n_edges) * (weighted ? 24 : 16);
}

// The parts of build_csr, in the order it runs them. Between them the edges live as "raw rows": row v's
// edges at [offs[v], offs[v + 1]) of keys (and w), each edge one packed (rel, dst) key so that sorting a row
// by one integer sorts it by (rel, dst).
struct RawRows {
    std::vector<int64_t> offs;  // [n_nodes + 1]
    std::vector<uint64_t> keys;
    std::vector<float> w;       // empty when unweighted
    std::vector<int64_t> kept;  // [n_nodes] surviving length of each row after dedupe
};

// Count each node's raw edges (an inverse edge counts for its tail) and turn the counts into row offsets,
// so every edge can then be written straight into its row.
inline std::vector<int64_t> raw_row_offsets(const node_t* heads, const node_t* tails, int64_t m, int64_t n_nodes,
                                            bool add_inverse) {
    std::vector<int64_t> offs(n_nodes + 1, 0);
    for (int64_t i = 0; i < m; ++i) {
        ++offs[heads[i] + 1];
        if (add_inverse) ++offs[tails[i] + 1];
    }
    std::partial_sum(offs.begin(), offs.end(), offs.begin());
    return offs;
}

// Write every triple (and its inverse) into its row in input order: the dedupe keeps the first weight of a
// duplicate edge, so input order is what decides which weight survives.
inline void scatter_triples(const node_t* heads, const rel_t* rels, const node_t* tails, const float* weights,
                            int64_t m, bool add_inverse, RawRows& raw) {
    std::vector<int64_t> pos(raw.offs.begin(), raw.offs.end() - 1);
    for (int64_t i = 0; i < m; ++i) {
        const int64_t p = pos[heads[i]]++;
        raw.keys[p] = pack_key(rels[i], tails[i]);
        if (weights) raw.w[p] = weights[i];
        if (add_inverse) {
            const int64_t q = pos[tails[i]]++;
            raw.keys[q] = pack_key(inverse_rel(rels[i]), heads[i]);
            if (weights) raw.w[q] = weights[i];
        }
    }
}

// Sort row [lo, hi) by key and move the distinct keys to its front; returns how many there are. Unweighted
// rows need no tie order, so a plain sort is enough.
inline int64_t sort_row_keys(RawRows& raw, int64_t lo, int64_t hi) {
    std::sort(raw.keys.begin() + lo, raw.keys.begin() + hi);
    return std::unique(raw.keys.begin() + lo, raw.keys.begin() + hi) - (raw.keys.begin() + lo);
}

// The weighted version: keys travel with their weights, and the sort is stable so that among duplicates
// the first inserted weight is the one kept. `tmp` is the caller's, reused across rows.
inline int64_t sort_row_weighted(RawRows& raw, int64_t lo, int64_t hi, std::vector<std::pair<uint64_t, float>>& tmp) {
    tmp.clear();
    for (int64_t e = lo; e < hi; ++e) tmp.emplace_back(raw.keys[e], raw.w[e]);
    std::stable_sort(tmp.begin(), tmp.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    int64_t k = 0;
    for (size_t j = 0; j < tmp.size(); ++j) {
        if (j > 0 && tmp[j].first == tmp[j - 1].first) continue;
        raw.keys[lo + k] = tmp[j].first;
        raw.w[lo + k] = tmp[j].second;
        ++k;
    }
    return k;
}

// Sort and dedupe every row, rows split over threads: rows are independent and each writes only its own
// range, so the result is the same for any thread count. Small graphs stay on one thread (not worth a pool).
inline void sort_rows(RawRows& raw, int64_t n_nodes, bool weighted, int threads) {
    raw.kept.assign(n_nodes, 0);
    const int workers = n_nodes < 1024 ? 1 : std::max(1, threads);
    parallel_for(n_nodes, workers, even_grain(n_nodes, workers), [&](int64_t v0, int64_t v1, int) {
        std::vector<std::pair<uint64_t, float>> tmp;
        for (int64_t v = v0; v < v1; ++v) {
            const int64_t lo = raw.offs[v], hi = raw.offs[v + 1];
            raw.kept[v] = weighted ? sort_row_weighted(raw, lo, hi, tmp) : sort_row_keys(raw, lo, hi);
        }
    });
}

// Copy each row's surviving prefix into the final, gap-free arrays and unpack the keys into rel and dst.
inline CSRArrays compact_rows(const RawRows& raw, int64_t n_nodes, bool weighted) {
    CSRArrays out;
    out.indptr.assign(n_nodes + 1, 0);
    for (int64_t v = 0; v < n_nodes; ++v) out.indptr[v + 1] = out.indptr[v] + raw.kept[v];
    const int64_t n_edges = out.indptr[n_nodes];
    out.dst.resize(n_edges);
    out.rel.resize(n_edges);
    if (weighted) out.weight.resize(n_edges);
    for (int64_t v = 0; v < n_nodes; ++v) {
        const int64_t src = raw.offs[v], o = out.indptr[v];
        for (int64_t j = 0; j < raw.kept[v]; ++j) {
            const uint64_t k = raw.keys[src + j];
            out.rel[o + j] = static_cast<rel_t>(k >> 32);
            out.dst[o + j] = static_cast<node_t>(k & 0xffffffffu);
            if (weighted) out.weight[o + j] = raw.w[src + j];
        }
    }
    return out;
}

// Build a CSR graph from id triples. With `add_inverse`, every (h, r, t) also yields (t, r ^ 1, h).
// Duplicate edges are kept once (the first weight wins); parallel edges with different relations stay.
// Rows are sorted by (rel, dst). Work is split over `threads` by row ranges; the result does not
// depend on the thread count.
inline CSRArrays build_csr(const node_t* heads, const rel_t* rels, const node_t* tails,
                           const float* weights, int64_t m, int64_t n_nodes, int64_t n_rels,
                           bool add_inverse, int threads) {
    check_triples(heads, rels, tails, m, n_nodes, n_rels);
    const int64_t n_raw = add_inverse ? 2 * m : m;
    RawRows raw;
    raw.offs = raw_row_offsets(heads, tails, m, n_nodes, add_inverse);
    raw.keys.resize(n_raw);
    raw.w.resize(weights ? n_raw : 0);
    scatter_triples(heads, rels, tails, weights, m, add_inverse, raw);
    sort_rows(raw, n_nodes, weights != nullptr, threads);
    return compact_rows(raw, n_nodes, weights != nullptr);
}

// Per-row sorted delta edges (src, key, weight) built from triples, inverses included.
struct DeltaEdges {
    std::vector<int64_t> indptr;  // [n_nodes + 1]
    std::vector<uint64_t> keys;
    std::vector<float> weight;
};

inline DeltaEdges delta_edges(const node_t* heads, const rel_t* rels, const node_t* tails, const float* weights,
                              int64_t m, int64_t n_nodes, bool add_inverse) {
    CSRArrays a = build_csr(heads, rels, tails, weights, m, n_nodes, INT32_MAX, add_inverse, 1);
    DeltaEdges d;
    d.indptr = std::move(a.indptr);
    d.keys.resize(a.dst.size());
    for (size_t i = 0; i < a.dst.size(); ++i) d.keys[i] = pack_key(a.rel[i], a.dst[i]);
    d.weight = std::move(a.weight);
    return d;
}

// Apply added and removed triples to a built graph by merging sorted rows: O(edges + delta log delta),
// no global re-sort. Removal wins over addition within one call (callers order their batches).
// Re-adding an existing edge keeps its old weight. The graph may grow to n_nodes_new nodes.
inline CSRArrays update_csr(const CSRView& g, int64_t n_nodes_new, const node_t* add_h, const rel_t* add_r,
                            const node_t* add_t, const float* add_w, int64_t n_add, const node_t* rem_h,
                            const rel_t* rem_r, const node_t* rem_t, int64_t n_rem, bool add_inverse,
                            float default_weight) {
    if (n_nodes_new < g.n_nodes) throw std::invalid_argument("a graph update cannot drop nodes");
    check_triples(add_h, add_r, add_t, n_add, n_nodes_new, INT32_MAX);
    check_triples(rem_h, rem_r, rem_t, n_rem, n_nodes_new, INT32_MAX);
    const bool weighted = g.weight != nullptr;
    DeltaEdges add = delta_edges(add_h, add_r, add_t, weighted ? add_w : nullptr, n_add, n_nodes_new, add_inverse);
    DeltaEdges rem = delta_edges(rem_h, rem_r, rem_t, nullptr, n_rem, n_nodes_new, add_inverse);
    CSRArrays out;
    out.indptr.assign(n_nodes_new + 1, 0);
    out.dst.reserve(g.n_edges + add.keys.size());
    out.rel.reserve(g.n_edges + add.keys.size());
    if (weighted) out.weight.reserve(g.n_edges + add.keys.size());
    for (int64_t v = 0; v < n_nodes_new; ++v) {
        int64_t i = v < g.n_nodes ? g.indptr[v] : 0, ie = v < g.n_nodes ? g.indptr[v + 1] : 0;
        int64_t j = add.indptr[v], je = add.indptr[v + 1];
        int64_t k = rem.indptr[v], ke = rem.indptr[v + 1];
        while (i < ie || j < je) {
            uint64_t ko = i < ie ? pack_key(g.rel[i], g.dst[i]) : UINT64_MAX;
            uint64_t ka = j < je ? add.keys[j] : UINT64_MAX;
            uint64_t key = std::min(ko, ka);
            float w = default_weight;
            if (ko == key) {
                if (weighted) w = g.weight[i];
                ++i;
                if (ka == key) ++j;
            } else {
                if (weighted && !add.weight.empty()) w = add.weight[j];
                ++j;
            }
            while (k < ke && rem.keys[k] < key) ++k;
            if (k < ke && rem.keys[k] == key) continue;
            out.rel.push_back(static_cast<rel_t>(key >> 32));
            out.dst.push_back(static_cast<node_t>(key & 0xffffffffu));
            if (weighted) out.weight.push_back(w);
        }
        out.indptr[v + 1] = static_cast<int64_t>(out.dst.size());
    }
    return out;
}

// Offsets (a CSR indptr, per-question ranges) must never decrease: a decreasing pair gives a row a negative
// range, and a loop over that row leaves the arrays it indexes. The first row v with ptr[v + 1] < ptr[v], or -1.
inline int64_t first_decreasing_row(const int64_t* ptr, int64_t n_rows) {
    for (int64_t v = 0; v < n_rows; ++v)
        if (ptr[v + 1] < ptr[v]) return v;
    return -1;
}

// Check that arrays handed in from outside form a valid CSR graph (sizes, monotone indptr,
// ids in range, rows sorted by (rel, dst)). Throws with the first problem found.
inline void validate_csr(const CSRView& g, int64_t n_rels_total) {
    if (g.indptr[0] != 0) throw std::invalid_argument("indptr[0] must be 0");
    if (g.indptr[g.n_nodes] != g.n_edges)
        throw std::invalid_argument("indptr[-1] must equal the number of edges");
    // indptr first, whole: only a non-decreasing indptr from 0 to n_edges keeps every row inside the edge arrays
    if (const int64_t v = first_decreasing_row(g.indptr, g.n_nodes); v >= 0)
        throw std::invalid_argument("indptr must be non-decreasing (at node " + std::to_string(v) + ": " +
                                    std::to_string(g.indptr[v]) + " > " + std::to_string(g.indptr[v + 1]) + ")");
    for (int64_t v = 0; v < g.n_nodes; ++v) {
        for (int64_t e = g.indptr[v]; e < g.indptr[v + 1]; ++e) {
            if (g.dst[e] < 0 || g.dst[e] >= g.n_nodes)
                throw std::out_of_range("edge " + std::to_string(e) + ": dst out of range (" + std::to_string(g.dst[e]) +
                                        " is not in [0, " + std::to_string(g.n_nodes) + "))");
            if (g.rel[e] < 0 || g.rel[e] >= n_rels_total)
                throw std::out_of_range("edge " + std::to_string(e) + ": relation out of range (" + std::to_string(g.rel[e]) +
                                        " is not in [0, " + std::to_string(n_rels_total) + "))");
            if (e > g.indptr[v] && pack_key(g.rel[e], g.dst[e]) <= pack_key(g.rel[e - 1], g.dst[e - 1]))
                throw std::invalid_argument("row " + std::to_string(v) + " is not sorted by (rel, dst) or has duplicates");
        }
    }
}

}  // namespace km
