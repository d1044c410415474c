// Bindings for the path kernels: check every id, offset and size at the boundary, release the GIL, hand
// results back as numpy arrays (CSR-style offsets; names are resolved in Python).
#include "common.hpp"
#include "paths.hpp"

namespace km {

static void check_ids(const int32_t* xs, int64_t n, int64_t limit, const char* what) {
    for (int64_t i = 0; i < n; ++i)
        if (xs[i] < 0 || xs[i] >= limit)
            throw std::out_of_range(std::string(what) + "[" + std::to_string(i) + "] = " + std::to_string(xs[i]) +
                                    " is out of range [0, " + std::to_string(limit) + ")");
}

// ptr must be a valid offsets array over `n_items` items: ptr[0] = 0, non-decreasing, ptr[-1] = n_items.
static int64_t check_ptr(const offs64& ptr, int64_t n_items, const char* what) {
    require_1d(ptr, what);
    if (ptr.size() < 1) throw std::invalid_argument(std::string(what) + " must have n_questions + 1 >= 1 entries");
    const int64_t* p = ptr.data();
    const int64_t Q = ptr.size() - 1;
    if (p[0] != 0 || p[Q] != n_items)
        throw std::invalid_argument(std::string(what) + " must start at 0 and end at the number of items (" +
                                    std::to_string(n_items) + ")");
    for (int64_t q = 0; q < Q; ++q)
        if (p[q + 1] < p[q]) throw std::invalid_argument(std::string(what) + " must be non-decreasing (at " + std::to_string(q) + ")");
    return Q;
}

static void check_hops(int max_hops) {
    if (max_hops < 0 || max_hops > kMaxHops)
        throw std::invalid_argument("max_hops must be in [0, " + std::to_string(kMaxHops) + "], got " + std::to_string(max_hops));
}

static void check_threads(int threads) {
    if (threads < 1 || threads > 1024) throw std::invalid_argument("threads must be in [1, 1024], got " + std::to_string(threads));
}

static void check_max_bytes(int64_t max_bytes) {
    if (max_bytes < 0) throw std::invalid_argument("max_bytes must be >= 0, got " + std::to_string(max_bytes));
}

static void put_paths(py::dict& d, BatchPaths& b) {
    d["pptr"] = to_numpy(std::move(b.paths.pptr));
    d["nodes"] = to_numpy(std::move(b.paths.nodes));
    d["rels"] = to_numpy(std::move(b.paths.rels));
}

static py::dict py_batch_shortest_paths(const offs64& indptr, const ids32& dst,
                                        const ids32& rel, const offs64& src_ptr,
                                        const ids32& src, const offs64& tgt_ptr,
                                        const ids32& tgt, int max_hops, int64_t max_paths,
                                        bool use_inverse, int threads, int64_t max_bytes) {
    CSRView g = csr_view(indptr, dst, rel, py::none());
    require_1d(src, "sources");
    require_1d(tgt, "targets");
    const int64_t Q = check_ptr(src_ptr, src.size(), "source offsets");
    if (check_ptr(tgt_ptr, tgt.size(), "target offsets") != Q)
        throw std::invalid_argument("source and target offsets must describe the same number of questions");
    check_ids(src.data(), src.size(), g.n_nodes, "sources");
    check_ids(tgt.data(), tgt.size(), g.n_nodes, "targets");
    check_hops(max_hops);
    check_threads(threads);
    if (max_paths < 1) throw std::invalid_argument("max_paths must be >= 1, got " + std::to_string(max_paths));
    check_max_bytes(max_bytes);
    OutputBudget budget(max_bytes);
    SPOptions o;
    o.max_hops = max_hops;
    o.max_paths = max_paths;
    o.use_inverse = use_inverse;
    BatchPaths b;
    {
        py::gil_scoped_release nogil;
        b = batch_shortest_paths(g, src_ptr.data(), src.data(), tgt_ptr.data(), tgt.data(), Q, o, threads, &budget);
    }
    py::dict d;
    d["qptr"] = to_numpy(std::move(b.qptr));
    put_paths(d, b);
    d["truncated"] = to_numpy(std::move(b.truncated));
    return d;
}

static py::dict py_batch_retrieve(const offs64& indptr, const ids32& dst, const ids32& rel,
                                  const offs64& src_ptr, const ids32& src,
                                  const offs64& path_ptr, const ids32& path, int64_t n_rels_total,
                                  int64_t max_paths, bool simple, bool exclude_sources, int threads,
                                  int64_t max_bytes) {
    CSRView g = csr_view(indptr, dst, rel, py::none());
    require_1d(src, "sources");
    require_1d(path, "relation paths");
    const int64_t Q = check_ptr(src_ptr, src.size(), "source offsets");
    if (check_ptr(path_ptr, path.size(), "relation path offsets") != Q)
        throw std::invalid_argument("source and relation path offsets must describe the same number of questions");
    check_ids(src.data(), src.size(), g.n_nodes, "sources");
    check_ids(path.data(), path.size(), n_rels_total, "relation paths");
    for (int64_t q = 0; q < Q; ++q) {
        int64_t L = path_ptr.data()[q + 1] - path_ptr.data()[q];
        if (L < 1 || L > kMaxHops)
            throw std::invalid_argument("question " + std::to_string(q) + ": relation path length " + std::to_string(L) +
                                        " is not in [1, " + std::to_string(kMaxHops) + "]");
    }
    check_threads(threads);
    if (max_paths < 0) throw std::invalid_argument("max_paths must be >= 0, got " + std::to_string(max_paths));
    check_max_bytes(max_bytes);
    OutputBudget budget(max_bytes);
    RetrieveOptions o;
    o.max_paths = max_paths;
    o.simple = simple;
    o.exclude_sources = exclude_sources;
    BatchPaths b;
    {
        py::gil_scoped_release nogil;
        b = batch_retrieve(g, src_ptr.data(), src.data(), path_ptr.data(), path.data(), Q, o, threads, &budget);
    }
    py::dict d;
    d["qptr"] = to_numpy(std::move(b.qptr));
    put_paths(d, b);
    d["truncated"] = to_numpy(std::move(b.truncated));
    d["eptr"] = to_numpy(std::move(b.eptr));
    d["ends"] = to_numpy(std::move(b.ends));
    d["counts"] = to_numpy(std::move(b.counts));
    d["totals"] = to_numpy(std::move(b.totals));
    return d;
}

static py::dict py_enumerate_paths(const offs64& indptr, const ids32& dst, const ids32& rel,
                                   int32_t source, int max_hops, int64_t max_paths, bool simple, int64_t max_bytes) {
    CSRView g = csr_view(indptr, dst, rel, py::none());
    check_ids(&source, 1, g.n_nodes, "source");
    check_hops(max_hops);
    if (max_paths < 0) throw std::invalid_argument("max_paths must be >= 0, got " + std::to_string(max_paths));
    check_max_bytes(max_bytes);
    OutputBudget budget(max_bytes);
    PathList p;
    p.budget = &budget;
    bool truncated;
    {
        py::gil_scoped_release nogil;
        truncated = enumerate_paths(g, source, max_hops, max_paths, simple, p);
    }
    py::dict d;
    d["pptr"] = to_numpy(std::move(p.pptr));
    d["nodes"] = to_numpy(std::move(p.nodes));
    d["rels"] = to_numpy(std::move(p.rels));
    d["truncated"] = truncated;
    return d;
}

static py::dict py_relation_paths_from(const offs64& indptr, const ids32& dst,
                                       const ids32& rel, const ids32& sources, int max_hops,
                                       int64_t max_paths, int64_t max_bytes) {
    CSRView g = csr_view(indptr, dst, rel, py::none());
    require_1d(sources, "sources");
    check_ids(sources.data(), sources.size(), g.n_nodes, "sources");
    check_hops(max_hops);
    if (max_paths < 0) throw std::invalid_argument("max_paths must be >= 0, got " + std::to_string(max_paths));
    check_max_bytes(max_bytes);
    OutputBudget budget(max_bytes);
    RelPathsOut r;
    {
        py::gil_scoped_release nogil;
        r = relation_paths_from(g, sources.data(), sources.size(), max_hops, max_paths, &budget);
    }
    py::dict d;
    d["rptr"] = to_numpy(std::move(r.rptr));
    d["rels"] = to_numpy(std::move(r.rels));
    d["n_ends"] = to_numpy(std::move(r.n_ends));
    d["truncated"] = r.truncated;
    return d;
}

void bind_paths(py::module_& m) {
    m.def("batch_shortest_paths", &py_batch_shortest_paths, py::arg("indptr"), py::arg("dst"), py::arg("rel"),
          py::arg("src_ptr"), py::arg("src"), py::arg("tgt_ptr"), py::arg("tgt"), py::arg("max_hops"),
          py::arg("max_paths"), py::arg("use_inverse") = true, py::arg("threads") = 1,
          py::arg("max_bytes") = int64_t(1) << 32,
          "All shortest paths from each question's sources to its targets (at most max_paths per pair, max_hops "
          "edges). Returns dict(qptr, pptr, nodes, rels, truncated); path i has nodes[pptr[i]:pptr[i+1]] and "
          "rels[pptr[i]-i:pptr[i+1]-i-1]. Raises ValueError when the output would pass max_bytes (4 GiB by default).");
    m.def("batch_retrieve", &py_batch_retrieve, py::arg("indptr"), py::arg("dst"), py::arg("rel"), py::arg("src_ptr"),
          py::arg("src"), py::arg("path_ptr"), py::arg("path"), py::arg("n_rels_total"), py::arg("max_paths"),
          py::arg("simple") = false, py::arg("exclude_sources") = false, py::arg("threads") = 1,
          py::arg("max_bytes") = int64_t(1) << 32,
          "Follow each question's relation sequence from its sources. Returns dict(qptr, pptr, nodes, rels, "
          "truncated, eptr, ends, counts, totals): end entities (sorted) with path counts, and at most max_paths "
          "explicit paths per question. Raises ValueError when the output would pass max_bytes (4 GiB by default).");
    m.def("enumerate_paths", &py_enumerate_paths, py::arg("indptr"), py::arg("dst"), py::arg("rel"), py::arg("source"),
          py::arg("max_hops"), py::arg("max_paths"), py::arg("simple") = true, py::arg("max_bytes") = int64_t(1) << 32,
          "Every path of 1..max_hops edges from source in DFS order (at most max_paths). dict(pptr, nodes, rels, truncated). Raises ValueError when the output would pass max_bytes (4 GiB by default).");
    m.def("relation_paths_from", &py_relation_paths_from, py::arg("indptr"), py::arg("dst"), py::arg("rel"),
          py::arg("sources"), py::arg("max_hops"), py::arg("max_paths"), py::arg("max_bytes") = int64_t(1) << 32,
          "Distinct relation sequences of 1..max_hops relations starting at any source, in prefix order. "
          "dict(rptr, rels, n_ends, truncated). Raises ValueError when the output would pass max_bytes (4 GiB by default).");
}

}  // namespace km
