// knowledge-mixer engine: path mining on the CSR multigraph.
//
// Plain C++17, no Python. Kernels:
//   shortest_paths_one   all shortest paths from each source to each target (layered BFS + backtracking over
//                        the predecessor DAG; the last layer may be closed from the targets' side)
//   retrieve_one         follow a relation sequence from the sources: end entities with path counts by
//                        dynamic programming, explicit paths by a pruned DFS (capped)
//   enumerate_paths      every path of 1..max_hops edges from one entity (capped)
//   relation_paths_from  the distinct relation sequences that exist from a set of entities
// and batch drivers that split questions over threads and concatenate results in question order.
// Paths are edge sequences, so parallel edges (two relations between one pair) give distinct paths.
#pragma once

#include <atomic>
#include <limits>
#include <memory>
#include <mutex>
#include <tuple>

#include "graph.hpp"
#include "parallel.hpp"

namespace km {

constexpr int kMaxHops = 64;  // hard bound on path lengths (scratch arrays are sized by it)

// A cap on the bytes of output one call may produce, shared by its threads. Path counts grow exponentially
// with the hops on graphs with cycles, so an absurd max_paths must end in a clear error (std::length_error,
// a Python ValueError), not in exhausted memory. Every kernel emits each path it explores, so the cap
// bounds the time spent too.
struct OutputBudget {
    int64_t max_bytes = std::numeric_limits<int64_t>::max();
    std::atomic<int64_t> used{0};
    explicit OutputBudget(int64_t m = std::numeric_limits<int64_t>::max()) : max_bytes(m) {}
    void take(int64_t bytes) {
        if (used.fetch_add(bytes, std::memory_order_relaxed) + bytes > max_bytes)
            throw std::length_error("the paths found need more than max_bytes = " + std::to_string(max_bytes) +
                                    " bytes of output; lower max_paths or max_hops, or raise max_bytes");
    }
};

// Paths stored flat: path i has nodes[pptr[i] .. pptr[i+1]) and rels[pptr[i] - i .. pptr[i+1] - i - 1).
struct PathList {
    std::vector<int64_t> pptr{0};
    std::vector<node_t> nodes;
    std::vector<rel_t> rels;
    OutputBudget* budget = nullptr;  // charged for every path added, when set

    int64_t size() const { return static_cast<int64_t>(pptr.size()) - 1; }
    int64_t length(int64_t i) const { return pptr[i + 1] - pptr[i] - 1; }
    const node_t* path_nodes(int64_t i) const { return nodes.data() + pptr[i]; }
    const rel_t* path_rels(int64_t i) const { return rels.data() + (pptr[i] - i); }
    void add(const node_t* ns, const rel_t* rs, int64_t len) {  // len = number of edges
        if (budget) budget->take(8 * len + 12);
        nodes.insert(nodes.end(), ns, ns + len + 1);
        rels.insert(rels.end(), rs, rs + len);
        pptr.push_back(static_cast<int64_t>(nodes.size()));
    }
    void clear() { pptr.assign(1, 0); nodes.clear(); rels.clear(); }
    void shrink() { pptr.shrink_to_fit(); nodes.shrink_to_fit(); rels.shrink_to_fit(); }  // drop growth slack
};

// An epoch-stamped membership set over node ids: clear() is O(1) (amortised), not O(n).
struct Marks {
    std::vector<uint32_t> st;
    uint32_t ep = 1;
    void resize(int64_t n) { if (static_cast<int64_t>(st.size()) < n) st.assign(n, 0), ep = 1; }
    bool has(node_t v) const { return st[v] == ep; }
    void set(node_t v) { st[v] = ep; }
    void clear() {
        if (++ep == 0) { std::fill(st.begin(), st.end(), 0); ep = 1; }
    }
};

inline int64_t sat_add(int64_t a, int64_t b) {
    return a > std::numeric_limits<int64_t>::max() - b ? std::numeric_limits<int64_t>::max() : a + b;
}

// Unique ids in first-seen order.
inline void unique_in_order(const node_t* xs, int64_t n, Marks& m, std::vector<node_t>& out) {
    m.clear();
    out.clear();
    for (int64_t i = 0; i < n; ++i)
        if (!m.has(xs[i])) { m.set(xs[i]); out.push_back(xs[i]); }
}

// Sort the paths [first, end) of `in` by (r1, e1, r2, e2, ...) and append them to `out`.
inline void append_sorted(const PathList& in, PathList& out) {
    std::vector<int64_t> idx(in.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) {
        int64_t la = in.length(a), lb = in.length(b);
        const node_t *na = in.path_nodes(a), *nb = in.path_nodes(b);
        const rel_t *ra = in.path_rels(a), *rb = in.path_rels(b);
        if (na[0] != nb[0]) return na[0] < nb[0];
        for (int64_t k = 0; k < std::min(la, lb); ++k) {
            if (ra[k] != rb[k]) return ra[k] < rb[k];
            if (na[k + 1] != nb[k + 1]) return na[k + 1] < nb[k + 1];
        }
        return la < lb;
    });
    for (int64_t i : idx) out.add(in.path_nodes(i), in.path_rels(i), in.length(i));
}

// ---------------------------------------------------------------------------------------------
// All shortest paths

struct PredEdge {
    node_t u;      // predecessor
    rel_t r;       // relation of the edge u -> v
    int64_t next;  // next predecessor record of the same v, or -1
};

struct SPScratch {
    Marks seen, tmark, smark;
    std::vector<int32_t> dist;
    std::vector<int64_t> head;
    std::vector<PredEdge> preds;
    std::vector<node_t> frontier, next, S, T;
    PathList pair;
    void resize(int64_t n) {
        seen.resize(n); tmark.resize(n); smark.resize(n);
        if (static_cast<int64_t>(dist.size()) < n) dist.assign(n, 0), head.assign(n, -1);
    }
};

struct SPOptions {
    int max_hops = 4;
    int64_t max_paths = 1000;  // per (source, target) pair
    bool use_inverse = true;   // the graph stores inverse edges: close the last layer from the targets
};

// BFS from s (up to max_hops layers, stopping once every target is reached), recording predecessor edges.
inline void sp_bfs(const CSRView& g, node_t s, const SPOptions& o, SPScratch& sc) {
    sc.seen.clear();
    sc.preds.clear();
    sc.seen.set(s); sc.dist[s] = 0; sc.head[s] = -1;
    sc.frontier.assign(1, s);
    int64_t n_targets = static_cast<int64_t>(sc.T.size());
    int64_t found = sc.tmark.has(s) ? 1 : 0;
    for (int d = 0; d < o.max_hops && found < n_targets && !sc.frontier.empty(); ++d) {
        if (o.use_inverse) {
            // Close this layer from the targets' side when that is cheaper and reaches every remaining target:
            // with inverse edges stored, the in-edges (w, r, t) of t are its out-edges (t, r^1, w).
            int64_t cost_f = 0, cost_t = 0;
            for (node_t u : sc.frontier) cost_f += g.degree(u);
            for (node_t t : sc.T) if (!sc.seen.has(t)) cost_t += g.degree(t);
            if (cost_t < cost_f) {
                bool all = true;
                for (node_t t : sc.T) {
                    if (sc.seen.has(t)) continue;
                    bool hit = false;
                    const auto [lo, hi] = g.row(t);
                    for (int64_t e = lo; e < hi && !hit; ++e) {
                        node_t w = g.node_at(e);
                        hit = sc.seen.has(w) && sc.dist[w] == d;
                    }
                    if (!hit) { all = false; break; }
                }
                if (all) {
                    for (node_t t : sc.T) {
                        if (sc.seen.has(t)) continue;
                        sc.seen.set(t); sc.dist[t] = d + 1; sc.head[t] = -1;
                        const auto [lo, hi] = g.row(t);
                        for (int64_t e = lo; e < hi; ++e) {
                            node_t w = g.node_at(e);
                            if (w != t && sc.seen.has(w) && sc.dist[w] == d) {
                                sc.preds.push_back({w, inverse_rel(g.rel[e]), sc.head[t]});
                                sc.head[t] = static_cast<int64_t>(sc.preds.size()) - 1;
                            }
                        }
                    }
                    return;
                }
            }
        }
        const bool last = d + 1 == o.max_hops;
        sc.next.clear();
        const node_t* dst = g.dst;
        const uint64_t n = static_cast<uint64_t>(g.n_nodes);  // locals: push_back below may alias g's fields
        for (node_t u : sc.frontier) {
            const auto [lo, hi] = g.row(u);
            for (int64_t e = lo; e < hi; ++e) {
                node_t v = dst[e];
                if (__builtin_expect(static_cast<uint64_t>(static_cast<int64_t>(v)) >= n, 0)) bad_dst(e, v, g.n_nodes);
                if (!sc.seen.has(v)) {
                    if (last && !sc.tmark.has(v)) continue;  // beyond the last layer only targets matter
                    sc.seen.set(v); sc.dist[v] = d + 1; sc.head[v] = -1;
                    sc.next.push_back(v);
                    if (sc.tmark.has(v)) ++found;
                } else if (sc.dist[v] != d + 1) {
                    continue;
                }
                sc.preds.push_back({u, g.rel[e], sc.head[v]});
                sc.head[v] = static_cast<int64_t>(sc.preds.size()) - 1;
            }
        }
        std::swap(sc.frontier, sc.next);
    }
}

// Enumerate the shortest s -> t paths by backtracking over the predecessor lists (at most max_paths).
// Returns true when more paths exist than were kept.
inline bool sp_backtrack(node_t s, node_t t, const SPOptions& o, SPScratch& sc, PathList& out) {
    node_t nodes[kMaxHops + 1];
    rel_t rels[kMaxHops];
    int64_t it[kMaxHops + 1];
    const int L = sc.dist[t];
    if (L == 0) { nodes[0] = s; out.add(nodes, rels, 0); return false; }
    int64_t count = 0;
    int k = L;
    nodes[L] = t;
    it[L] = sc.head[t];
    while (true) {
        if (it[k] < 0) {
            if (k == L) break;
            ++k;
            it[k] = sc.preds[it[k]].next;
            continue;
        }
        const PredEdge& p = sc.preds[it[k]];
        nodes[k - 1] = p.u;
        rels[k - 1] = p.r;
        if (k == 1) {
            if (count == o.max_paths) return true;
            out.add(nodes, rels, L);
            ++count;
            it[k] = p.next;
        } else {
            --k;
            it[k] = sc.head[nodes[k]];
        }
    }
    return false;
}

// All shortest paths from every source to every target (pairs in source-major order, each pair's paths
// sorted by (r1, e1, r2, ...)). Appends to `out`; returns true when some pair was truncated by max_paths.
inline bool shortest_paths_one(const CSRView& g, const node_t* S, int64_t ns, const node_t* T, int64_t nt,
                               const SPOptions& o, SPScratch& sc, PathList& out, OutputBudget* budget = nullptr) {
    sc.resize(g.n_nodes);
    sc.pair.budget = budget;  // every path passes through sc.pair: charge it there
    unique_in_order(S, ns, sc.smark, sc.S);
    unique_in_order(T, nt, sc.tmark, sc.T);  // tmark now marks the targets
    bool truncated = false;
    for (node_t s : sc.S) {
        sp_bfs(g, s, o, sc);
        for (node_t t : sc.T) {
            if (!sc.seen.has(t)) continue;
            sc.pair.clear();
            truncated |= sp_backtrack(s, t, o, sc, sc.pair);
            append_sorted(sc.pair, out);
        }
    }
    return truncated;
}

// ---------------------------------------------------------------------------------------------
// Retrieval along a relation sequence

struct RetrieveOptions {
    int64_t max_paths = 1000;     // explicit paths kept per question (0: none)
    bool simple = false;          // forbid revisiting an entity within a path
    bool exclude_sources = false; // paths that come back to a source entity (at any hop) do not count (MetaQA)
    bool exclude_source_ends = false; // paths that end on a source entity do not count (they may pass through one)
    bool drops_end(bool is_source) const { return is_source && (exclude_sources || exclude_source_ends); }
};

struct RetrieveScratch {
    Marks acc, smark;
    std::vector<int64_t> cnt;
    std::vector<node_t> S, touched;
    std::vector<std::vector<node_t>> F, V;      // reachable / viable entities per layer (sorted)
    std::vector<std::vector<int64_t>> C;        // path counts per layer (aligned with F)
    void resize(int64_t n) {
        acc.resize(n); smark.resize(n);
        if (static_cast<int64_t>(cnt.size()) < n) cnt.assign(n, 0);
    }
};

struct RetrieveOut {
    std::vector<node_t> ends;     // sorted end entities
    std::vector<int64_t> counts;  // paths reaching each (saturating)
    int64_t total = 0;            // all paths (saturating)
    bool truncated = false;
};

inline bool in_sorted(const std::vector<node_t>& v, node_t x) { return std::binary_search(v.begin(), v.end(), x); }

// DFS over the relation sequence; only enters viable entities (those that can still finish the sequence).
// Counts every path into sc.cnt (simple mode) and keeps the first max_paths in `out`.
inline void retrieve_dfs(const CSRView& g, const rel_t* R, int L, const RetrieveOptions& o, RetrieveScratch& sc,
                         PathList& out, int64_t& kept, bool count_all, RetrieveOut& res) {
    node_t nodes[kMaxHops + 1];
    rel_t rels[kMaxHops];
    int64_t pos[kMaxHops + 1], end[kMaxHops + 1];
    for (node_t s : sc.S) {
        if (!in_sorted(sc.V[0], s)) continue;
        nodes[0] = s;
        int k = 0;
        auto rr = g.rel_range(s, R[0]);
        pos[0] = rr.first; end[0] = rr.second;
        while (k >= 0) {
            if (!count_all && kept > o.max_paths) return;
            if (pos[k] == end[k]) { --k; continue; }
            int64_t e = pos[k]++;
            node_t w = g.node_at(e);
            if (!in_sorted(sc.V[k + 1], w)) continue;
            if (o.exclude_sources && sc.smark.has(w)) continue;
            if (o.simple) {
                bool dup = false;
                for (int j = 0; j <= k && !dup; ++j) dup = nodes[j] == w;
                if (dup) continue;
            }
            nodes[k + 1] = w;
            rels[k] = R[k];
            if (k + 1 == L) {
                if (o.drops_end(sc.smark.has(w))) continue;
                if (count_all) {
                    if (!sc.acc.has(w)) { sc.acc.set(w); sc.cnt[w] = 0; sc.touched.push_back(w); }
                    sc.cnt[w] = sat_add(sc.cnt[w], 1);
                    res.total = sat_add(res.total, 1);
                }
                if (kept < o.max_paths) out.add(nodes, rels, L);
                ++kept;
                if (kept > o.max_paths) res.truncated = true;
            } else {
                ++k;
                auto r2 = g.rel_range(w, R[k]);
                pos[k] = r2.first; end[k] = r2.second;
            }
        }
    }
}

inline void retrieve_one(const CSRView& g, const node_t* S, int64_t ns, const rel_t* R, int L,
                         const RetrieveOptions& o, RetrieveScratch& sc, PathList& out, RetrieveOut& res) {
    sc.resize(g.n_nodes);
    res = RetrieveOut();
    unique_in_order(S, ns, sc.smark, sc.S);  // smark now marks the sources
    if (static_cast<int>(sc.F.size()) < L + 1) sc.F.resize(L + 1), sc.C.resize(L + 1), sc.V.resize(L + 1);
    // Forward DP: F[k] = entities reachable by the first k relations, C[k] = number of paths to each.
    sc.F[0] = sc.S;
    std::sort(sc.F[0].begin(), sc.F[0].end());
    sc.C[0].assign(sc.F[0].size(), 1);
    for (int k = 0; k < L; ++k) {
        sc.acc.clear();
        sc.touched.clear();
        const auto& Fk = sc.F[k];
        for (size_t i = 0; i < Fk.size(); ++i) {
            auto [lo, hi] = g.rel_range(Fk[i], R[k]);
            for (int64_t e = lo; e < hi; ++e) {
                node_t w = g.node_at(e);
                if (o.exclude_sources && sc.smark.has(w)) continue;  // a path through a source does not count
                if (!sc.acc.has(w)) { sc.acc.set(w); sc.cnt[w] = 0; sc.touched.push_back(w); }
                sc.cnt[w] = sat_add(sc.cnt[w], sc.C[k][i]);
            }
        }
        std::sort(sc.touched.begin(), sc.touched.end());
        sc.F[k + 1] = sc.touched;
        sc.C[k + 1].resize(sc.touched.size());
        for (size_t i = 0; i < sc.touched.size(); ++i) sc.C[k + 1][i] = sc.cnt[sc.touched[i]];
    }
    // Backward pass: V[k] = entities of F[k] with an R[k] edge into V[k + 1] (only needed to list paths).
    const bool need_paths = o.simple || o.max_paths > 0;
    sc.V[L].clear();
    for (node_t v : sc.F[L])
        if (!o.drops_end(sc.smark.has(v))) sc.V[L].push_back(v);
    for (int k = L - 1; k >= 0 && need_paths; --k) {
        sc.V[k].clear();
        if (sc.V[k + 1].empty()) continue;
        for (node_t v : sc.F[k]) {
            auto [lo, hi] = g.rel_range(v, R[k]);
            for (int64_t e = lo; e < hi; ++e)
                if (in_sorted(sc.V[k + 1], g.node_at(e))) { sc.V[k].push_back(v); break; }
        }
    }
    int64_t kept = 0;
    if (!o.simple) {
        for (size_t i = 0; i < sc.F[L].size(); ++i) {
            node_t v = sc.F[L][i];
            if (o.drops_end(sc.smark.has(v))) continue;
            res.ends.push_back(v);
            res.counts.push_back(sc.C[L][i]);
            res.total = sat_add(res.total, sc.C[L][i]);
        }
        res.truncated = res.total > o.max_paths;
        if (o.max_paths > 0) retrieve_dfs(g, R, L, o, sc, out, kept, false, res);
    } else {
        // Simple paths cannot be counted by the layer DP: enumerate them all (keeping max_paths).
        sc.acc.clear();
        sc.touched.clear();
        retrieve_dfs(g, R, L, o, sc, out, kept, true, res);
        std::sort(sc.touched.begin(), sc.touched.end());
        for (node_t v : sc.touched) { res.ends.push_back(v); res.counts.push_back(sc.cnt[v]); }
    }
}

// ---------------------------------------------------------------------------------------------
// k-hop enumeration and relation sequences

// Every path of 1..max_hops edges from `s` in DFS (CSR) order, at most max_paths; true when truncated.
inline bool enumerate_paths(const CSRView& g, node_t s, int max_hops, int64_t max_paths, bool simple, PathList& out) {
    node_t nodes[kMaxHops + 1];
    rel_t rels[kMaxHops];
    int64_t pos[kMaxHops + 1], end[kMaxHops + 1];
    if (max_hops == 0) return false;
    nodes[0] = s;
    std::tie(pos[0], end[0]) = g.row(s);
    int k = 0;
    int64_t kept = 0;
    while (k >= 0) {
        if (pos[k] == end[k]) { --k; continue; }
        int64_t e = pos[k]++;
        node_t w = g.node_at(e);
        if (simple) {
            bool dup = false;
            for (int j = 0; j <= k && !dup; ++j) dup = nodes[j] == w;
            if (dup) continue;
        }
        nodes[k + 1] = w;
        rels[k] = g.rel[e];
        if (kept == max_paths) return true;
        out.add(nodes, rels, k + 1);
        ++kept;
        if (k + 1 < max_hops) { ++k; std::tie(pos[k], end[k]) = g.row(w); }
    }
    return false;
}

struct RelPathsOut {
    std::vector<int64_t> rptr{0};
    std::vector<rel_t> rels;
    std::vector<int64_t> n_ends;  // distinct entities reached by each relation sequence
    bool truncated = false;
};

inline void relation_paths_rec(const CSRView& g, const std::vector<node_t>& F, int depth, int max_hops,
                               int64_t max_out, std::vector<rel_t>& prefix, Marks& acc, RelPathsOut& out,
                               OutputBudget* budget) {
    if (depth == max_hops || out.truncated) return;
    std::vector<rel_t> rs;
    for (node_t v : F) {
        const auto [lo, hi] = g.row(v);
        for (int64_t e = lo; e < hi; ++e)
            if (rs.empty() || rs.back() != g.rel[e]) rs.push_back(g.rel[e]);
    }
    std::sort(rs.begin(), rs.end());
    rs.erase(std::unique(rs.begin(), rs.end()), rs.end());
    std::vector<node_t> next;
    for (rel_t r : rs) {
        acc.clear();
        next.clear();
        for (node_t v : F) {
            auto [lo, hi] = g.rel_range(v, r);
            for (int64_t e = lo; e < hi; ++e) {
                const node_t w = g.node_at(e);
                if (!acc.has(w)) { acc.set(w); next.push_back(w); }
            }
        }
        if (static_cast<int64_t>(out.n_ends.size()) == max_out) { out.truncated = true; return; }
        if (budget) budget->take(4 * (depth + 1) + 16);
        prefix.push_back(r);
        out.rels.insert(out.rels.end(), prefix.begin(), prefix.end());
        out.rptr.push_back(static_cast<int64_t>(out.rels.size()));
        out.n_ends.push_back(static_cast<int64_t>(next.size()));
        std::sort(next.begin(), next.end());
        relation_paths_rec(g, next, depth + 1, max_hops, max_out, prefix, acc, out, budget);
        prefix.pop_back();
        if (out.truncated) return;
    }
}

// The distinct relation sequences of 1..max_hops relations that start at some source, in prefix (DFS) order
// with relation ids ascending; at most max_out of them.
inline RelPathsOut relation_paths_from(const CSRView& g, const node_t* S, int64_t ns, int max_hops, int64_t max_out,
                                       OutputBudget* budget = nullptr) {
    Marks acc;
    acc.resize(g.n_nodes);
    std::vector<node_t> F;
    unique_in_order(S, ns, acc, F);
    std::sort(F.begin(), F.end());
    RelPathsOut out;
    std::vector<rel_t> prefix;
    relation_paths_rec(g, F, 0, max_hops, max_out, prefix, acc, out, budget);
    return out;
}

// ---------------------------------------------------------------------------------------------
// Batch drivers: questions are cut into fixed chunks handed out to threads; each chunk writes its own
// buffers, concatenated in question order afterwards, so results never depend on the thread count.
// A kernel's exception (corrupt graph, output budget) stops the batch and reaches the caller (parallel_for).

// Scratch objects (O(n) arrays) are pooled across calls, so a single-question call does not pay for
// allocating and zeroing them. Epoch stamps make stale content from earlier calls invisible.
template <typename S>
struct ScratchPool {
    std::mutex m;
    std::vector<std::unique_ptr<S>> free;
    std::vector<std::unique_ptr<S>> take(int k) {
        std::vector<std::unique_ptr<S>> out;
        std::lock_guard<std::mutex> lock(m);
        for (int i = 0; i < k; ++i) {
            if (free.empty()) out.push_back(std::make_unique<S>());
            else { out.push_back(std::move(free.back())); free.pop_back(); }
        }
        return out;
    }
    void give(std::vector<std::unique_ptr<S>>& xs) {
        std::lock_guard<std::mutex> lock(m);
        for (auto& x : xs)
            if (free.size() < 16) free.push_back(std::move(x));
        xs.clear();
    }
};

template <typename S>
ScratchPool<S>& scratch_pool() {
    static ScratchPool<S> pool;
    return pool;
}

// Borrow `k` scratch objects for the duration of a call.
template <typename S>
struct Borrowed {
    std::vector<std::unique_ptr<S>> xs;
    explicit Borrowed(int k) : xs(scratch_pool<S>().take(k)) {}
    ~Borrowed() { scratch_pool<S>().give(xs); }
    S& operator[](int i) { return *xs[i]; }
};

struct BatchPaths {
    std::vector<int64_t> qptr;     // [Q + 1] path ranges per question
    PathList paths;
    std::vector<uint8_t> truncated;  // [Q]
    // retrieval only
    std::vector<int64_t> eptr;     // [Q + 1] end-entity ranges per question
    std::vector<node_t> ends;
    std::vector<int64_t> counts;
    std::vector<int64_t> totals;   // [Q]
};

struct ChunkOut {
    std::vector<int64_t> n_paths, n_ends;  // per question
    PathList paths;
    std::vector<node_t> ends;
    std::vector<int64_t> counts;
};

inline void merge_chunks(std::vector<ChunkOut>& chunks, int64_t Q, bool with_ends, BatchPaths& b) {
    b.qptr.assign(1, 0);
    b.qptr.reserve(Q + 1);
    int64_t n_nodes = 0, n_rels = 0;
    for (auto& c : chunks) { n_nodes += c.paths.nodes.size(); n_rels += c.paths.rels.size(); }
    b.paths.nodes.reserve(n_nodes);
    b.paths.rels.reserve(n_rels);
    if (with_ends) b.eptr.assign(1, 0);
    for (auto& c : chunks) {
        for (int64_t n : c.n_paths) b.qptr.push_back(b.qptr.back() + n);
        int64_t base = b.paths.nodes.size();
        for (int64_t i = 1; i < static_cast<int64_t>(c.paths.pptr.size()); ++i) b.paths.pptr.push_back(base + c.paths.pptr[i]);
        b.paths.nodes.insert(b.paths.nodes.end(), c.paths.nodes.begin(), c.paths.nodes.end());
        b.paths.rels.insert(b.paths.rels.end(), c.paths.rels.begin(), c.paths.rels.end());
        if (with_ends) {
            for (int64_t n : c.n_ends) b.eptr.push_back(b.eptr.back() + n);
            b.ends.insert(b.ends.end(), c.ends.begin(), c.ends.end());
            b.counts.insert(b.counts.end(), c.counts.begin(), c.counts.end());
        }
        c = ChunkOut();  // free as we go
    }
}

constexpr int64_t kChunk = 64;  // questions per work unit

// The frame both batch drivers share: questions in chunks of kChunk spread over threads by parallel_for, each
// chunk answered into its own ChunkOut with the worker's scratch, merged in question order afterwards.
// answer(q, scratch, chunk) appends question q's paths (and ends) to the chunk; the frame counts the paths.
template <typename Scratch, typename Answer>
void run_batch(int64_t Q, int threads, bool with_ends, BatchPaths& b, Answer&& answer) {
    std::vector<ChunkOut> chunks((Q + kChunk - 1) / kChunk);
    b.truncated.assign(Q, 0);
    Borrowed<Scratch> scratch(std::max(1, threads));
    parallel_for(Q, threads, kChunk, [&](int64_t q0, int64_t q1, int worker) {
        ChunkOut& co = chunks[q0 / kChunk];
        for (int64_t q = q0; q < q1; ++q) {
            const int64_t before = co.paths.size();
            answer(q, scratch[worker], co);
            co.n_paths.push_back(co.paths.size() - before);
        }
        co.paths.shrink();
    });
    merge_chunks(chunks, Q, with_ends, b);
}

// Questions given CSR-style: question q has sources S[sptr[q] .. sptr[q+1]) and targets T[tptr[q] .. tptr[q+1]).
inline BatchPaths batch_shortest_paths(const CSRView& g, const int64_t* sptr, const node_t* S, const int64_t* tptr,
                                       const node_t* T, int64_t Q, const SPOptions& o, int threads,
                                       OutputBudget* budget = nullptr) {
    BatchPaths b;
    run_batch<SPScratch>(Q, threads, false, b, [&](int64_t q, SPScratch& sc, ChunkOut& co) {
        b.truncated[q] = shortest_paths_one(g, S + sptr[q], sptr[q + 1] - sptr[q], T + tptr[q], tptr[q + 1] - tptr[q],
                                            o, sc, co.paths, budget);
    });
    return b;
}

// Questions CSR-style: sources S[sptr[q] ..], relation sequence R[rptr[q] .. rptr[q+1]).
inline BatchPaths batch_retrieve(const CSRView& g, const int64_t* sptr, const node_t* S, const int64_t* rptr,
                                 const rel_t* R, int64_t Q, const RetrieveOptions& o, int threads,
                                 OutputBudget* budget = nullptr) {
    BatchPaths b;
    b.totals.assign(Q, 0);
    run_batch<RetrieveScratch>(Q, threads, true, b, [&](int64_t q, RetrieveScratch& sc, ChunkOut& co) {
        co.paths.budget = budget;  // retrieval adds its paths to the chunk directly: charge them there
        RetrieveOut res;
        retrieve_one(g, S + sptr[q], sptr[q + 1] - sptr[q], R + rptr[q], static_cast<int>(rptr[q + 1] - rptr[q]), o,
                     sc, co.paths, res);
        co.n_ends.push_back(static_cast<int64_t>(res.ends.size()));
        co.ends.insert(co.ends.end(), res.ends.begin(), res.ends.end());
        co.counts.insert(co.counts.end(), res.counts.begin(), res.counts.end());
        b.truncated[q] = res.truncated;
        b.totals[q] = res.total;
    });
    return b;
}

}  // namespace km
