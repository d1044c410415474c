// Bindings for the path kernels: check every id, offset and size at the boundary, release the GIL, hand
// results back as numpy arrays (CSR-style offsets; names are resolved in Python).
#include "common.hpp"
#include "paths.hpp"

namespace km {

// ptr must be a valid offsets array over `n_items` items: ptr[0] = 0, non-decreasing, ptr[-1] = n_items.
static int64_t check_ptr(const offs64& ptr, int64_t n_items, const char* what) {
    require_1d(ptr, what);
    if (ptr.size() < 1) throw std::invalid_argument(std::string(what) + " must have n_questions + 1 >= 1 entries");
    check_offsets_span(ptr.data(), ptr.size(), n_items, what, "the number of items (" + std::to_string(n_items) + ")");
    check_offsets_order(ptr.data(), ptr.size() - 1, what, "");
    return ptr.size() - 1;
}

// Both batch kernels take questions as sources plus one more id array per question (targets, relation
// paths), each CSR-style; `name` names that array, `stem` its offsets. Returns the number of questions.
static int64_t check_questions(const CSRView& g, const offs64& src_ptr, const ids32& src, const offs64& ptr,
                               const ids32& ids, const std::string& name, const std::string& stem, int64_t limit) {
    require_1d(src, "sources");
    require_1d(ids, name.c_str());
    const int64_t Q = check_ptr(src_ptr, src.size(), "source offsets");
    if (check_ptr(ptr, ids.size(), (stem + " offsets").c_str()) != Q)
        throw std::invalid_argument("source and " + stem + " offsets must describe the same number of questions");
    check_ids(src.data(), src.size(), g.n_nodes, "sources");
    check_ids(ids.data(), ids.size(), limit, name.c_str());
    return Q;
}

static void check_hops(int max_hops) {
    if (max_hops < 0 || max_hops > kMaxHops)
        throw std::invalid_argument("max_hops must be in [0, " + std::to_string(kMaxHops) + "], got " + std::to_string(max_hops));
}

// Shortest paths keep at least one path per pair (asking for none is a mistake); the other kernels accept 0.
static void check_max_paths(int64_t max_paths, int64_t least) {
    if (max_paths < least)
        throw std::invalid_argument("max_paths must be >= " + std::to_string(least) + ", got " + std::to_string(max_paths));
}

// The limits both batch kernels take, checked in one order; returns the output budget their threads share.
static OutputBudget batch_budget(int threads, int64_t max_paths, int64_t least_paths, int64_t max_bytes) {
    check_threads(threads);
    check_max_paths(max_paths, least_paths);
    check_max_bytes(max_bytes);
    return OutputBudget(max_bytes);
}

// A relation path is followed hop by hop in fixed scratch arrays of kMaxHops, and an empty one asks nothing.
static void check_path_lengths(const offs64& path_ptr, int64_t Q) {
    for (int64_t q = 0; q < Q; ++q) {
        const int64_t L = path_ptr.data()[q + 1] - path_ptr.data()[q];
        if (L < 1 || L > kMaxHops)
            throw std::invalid_argument("question " + std::to_string(q) + ": relation path length " + std::to_string(L) +
                                        " is not in [1, " + std::to_string(kMaxHops) + "]");
    }
}

static void put_paths(py::dict& d, PathList& p) {
    d["pptr"] = to_numpy(std::move(p.pptr));
    d["nodes"] = to_numpy(std::move(p.nodes));
    d["rels"] = to_numpy(std::move(p.rels));
}

// The keys both batch kernels return: per-question path ranges, the paths, and which questions were cut short.
static py::dict batch_dict(BatchPaths& b) {
    py::dict d;
    d["qptr"] = to_numpy(std::move(b.qptr));
    put_paths(d, b.paths);
    d["truncated"] = to_numpy(std::move(b.truncated));
    return d;
}

static py::dict py_batch_shortest_paths(const offs64& indptr, const ids32& dst,
                                        const ids32& rel, const offs64& src_ptr,
                                        const ids32& src, const offs64& tgt_ptr,
                                        const ids32& tgt, int max_hops, int64_t max_paths,
                                        bool use_inverse, int threads, int64_t max_bytes) {
    CSRView g = csr_view(indptr, dst, rel, py::none());
    const int64_t Q = check_questions(g, src_ptr, src, tgt_ptr, tgt, "targets", "target", g.n_nodes);
    check_hops(max_hops);
    OutputBudget budget = batch_budget(threads, max_paths, 1, max_bytes);
    const SPOptions o{max_hops, max_paths, use_inverse};
    BatchPaths b = without_gil([&] {
        return batch_shortest_paths(g, src_ptr.data(), src.data(), tgt_ptr.data(), tgt.data(), Q, o, threads, &budget);
    });
    return batch_dict(b);
}

static py::dict py_batch_retrieve(const offs64& indptr, const ids32& dst, const ids32& rel,
                                  const offs64& src_ptr, const ids32& src,
                                  const offs64& path_ptr, const ids32& path, int64_t n_rels_total,
                                  int64_t max_paths, bool simple, bool exclude_sources, int threads,
                                  int64_t max_bytes, bool exclude_source_ends) {
    CSRView g = csr_view(indptr, dst, rel, py::none());
    const int64_t Q = check_questions(g, src_ptr, src, path_ptr, path, "relation paths", "relation path", n_rels_total);
    check_path_lengths(path_ptr, Q);
    OutputBudget budget = batch_budget(threads, max_paths, 0, max_bytes);
    const RetrieveOptions o{max_paths, simple, exclude_sources, exclude_source_ends};
    BatchPaths b = without_gil([&] {
        return batch_retrieve(g, src_ptr.data(), src.data(), path_ptr.data(), path.data(), Q, o, threads, &budget);
    });
    py::dict d = batch_dict(b);
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
    check_max_paths(max_paths, 0);
    check_max_bytes(max_bytes);
    OutputBudget budget(max_bytes);
    PathList p;
    p.budget = &budget;
    const bool truncated = without_gil([&] { return enumerate_paths(g, source, max_hops, max_paths, simple, p); });
    py::dict d;
    put_paths(d, p);
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
    check_max_paths(max_paths, 0);
    check_max_bytes(max_bytes);
    OutputBudget budget(max_bytes);
    RelPathsOut r = without_gil([&] { return relation_paths_from(g, sources.data(), sources.size(), max_hops, max_paths, &budget); });
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
          py::arg("max_bytes") = int64_t(1) << 32, py::arg("exclude_source_ends") = false,
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
