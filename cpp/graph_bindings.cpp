// Bindings for the CSR graph: build, validate, point queries.
#include "common.hpp"

namespace km {

// Refuse a build whose memory estimate passes max_bytes (an absurd node count must not exhaust memory).
static void check_build_bytes(int64_t n_nodes, int64_t n_edges, bool weighted, int64_t max_bytes, const char* what,
                              double factor = 1) {
    check_max_bytes(max_bytes);
    const double need = factor * csr_build_bytes(n_nodes, n_edges, weighted);
    if (need > static_cast<double>(max_bytes))
        throw std::invalid_argument("a graph of " + std::to_string(n_nodes) + " nodes and " + std::to_string(n_edges) +
                                    " edges needs about " + std::to_string(static_cast<int64_t>(need / 1048576)) +
                                    " MiB to build, over max_bytes = " + std::to_string(max_bytes / 1048576) +
                                    " MiB; check " + what + " (the largest node id + 1) or raise max_bytes");
}

// Triples come in as three parallel id arrays; returns their common length.
static int64_t check_triple_arrays(const ids32& heads, const ids32& rels, const ids32& tails) {
    require_1d(heads, "heads");
    require_1d(rels, "rels");
    require_1d(tails, "tails");
    const int64_t m = heads.size();
    if (rels.size() != m || tails.size() != m)
        throw std::invalid_argument("heads, rels and tails must have the same length");
    return m;
}

// A built graph goes back to Python as (indptr, dst, rel, weight or None).
static py::tuple csr_tuple(CSRArrays&& a, bool weighted) {
    py::object wout = py::none();
    if (weighted) wout = to_numpy(std::move(a.weight));
    return py::make_tuple(to_numpy(std::move(a.indptr)), to_numpy(std::move(a.dst)), to_numpy(std::move(a.rel)),
                          wout);
}

static py::tuple py_build_csr(const ids32& heads, const ids32& rels,
                              const ids32& tails, const py::object& weights,
                              int64_t n_nodes, int64_t n_rels, bool add_inverse, int threads, int64_t max_bytes) {
    const int64_t m = check_triple_arrays(heads, rels, tails);
    if (n_nodes < 0 || n_nodes > INT32_MAX)
        throw std::invalid_argument("n_nodes must be in [0, 2^31), got " + std::to_string(n_nodes));
    if (n_rels < 0 || n_rels > INT32_MAX)
        throw std::invalid_argument("n_rels must be in [0, 2^31), got " + std::to_string(n_rels));
    check_threads(threads);
    check_build_bytes(n_nodes, add_inverse ? 2 * m : m, !weights.is_none(), max_bytes, "n_nodes");
    carray<float> w;
    const float* wp = optional_floats(weights, m, "weights", "weights must be a 1-d array with one entry per triple", w);
    return csr_tuple(without_gil([&] {
                         return build_csr(heads.data(), rels.data(), tails.data(), wp, m, n_nodes, n_rels, add_inverse,
                                          threads);
                     }),
                     wp != nullptr);
}

static void py_validate_csr(const offs64& indptr, const ids32& dst,
                            const ids32& rel, const py::object& weight, int64_t n_rels_total) {
    carray<float> w;
    CSRView g = csr_view(indptr, dst, rel, weight, &w);
    without_gil([&] { validate_csr(g, n_rels_total); });
}

static carray<bool> py_has_edges(const offs64& indptr, const ids32& dst,
                                 const ids32& rel, const ids32& heads,
                                 const ids32& rels, const ids32& tails) {
    CSRView g = csr_view(indptr, dst, rel, py::none());
    const int64_t m = check_triple_arrays(heads, rels, tails);
    carray<bool> out(m);
    bool* o = out.mutable_data();
    const int32_t *h = heads.data(), *r = rels.data(), *t = tails.data();
    py::gil_scoped_release nogil;
    for (int64_t i = 0; i < m; ++i) {
        bool ok = h[i] >= 0 && h[i] < g.n_nodes && t[i] >= 0 && t[i] < g.n_nodes;
        o[i] = ok && g.has_edge(h[i], r[i], t[i]);
    }
    return out;
}

static py::tuple py_update_csr(const offs64& indptr, const ids32& dst, const ids32& rel,
                               const py::object& weight, int64_t n_nodes_new, const ids32& add_h,
                               const ids32& add_r, const ids32& add_t,
                               const py::object& add_w, const ids32& rem_h,
                               const ids32& rem_r, const ids32& rem_t, bool add_inverse,
                               int64_t max_bytes) {
    carray<float> w;
    CSRView g = csr_view(indptr, dst, rel, weight, &w);
    for (const auto* a : {&add_h, &add_r, &add_t, &rem_h, &rem_r, &rem_t}) require_1d(*a, "added/removed triples");
    if (n_nodes_new < g.n_nodes || n_nodes_new > INT32_MAX)
        throw std::invalid_argument("n_nodes_new must be in [n_nodes, 2^31) = [" + std::to_string(g.n_nodes) +
                                    ", 2^31), got " + std::to_string(n_nodes_new) + "; a graph update cannot drop nodes");
    if (add_r.size() != add_h.size() || add_t.size() != add_h.size())
        throw std::invalid_argument("added heads, rels and tails must have the same length");
    if (rem_r.size() != rem_h.size() || rem_t.size() != rem_h.size())
        throw std::invalid_argument("removed heads, rels and tails must have the same length");
    carray<float> aw;
    const float* awp = optional_floats(add_w, add_h.size(), "add_weights",
                                       "add_weights must be a 1-d array with one weight per added triple", aw);
    // the merge builds the added and removed rows over n_nodes_new nodes, then the merged graph
    const int64_t k = add_inverse ? 2 : 1;
    check_build_bytes(n_nodes_new, g.n_edges + k * (add_h.size() + rem_h.size()), g.weight != nullptr, max_bytes,
                      "n_nodes_new", 2);
    return csr_tuple(without_gil([&] {
                         // the merge copies ids straight through, so the old graph must be valid (O(edges), like the merge)
                         validate_csr(g, INT32_MAX);
                         return update_csr(g, n_nodes_new, add_h.data(), add_r.data(), add_t.data(), awp, add_h.size(),
                                           rem_h.data(), rem_r.data(), rem_t.data(), rem_h.size(), add_inverse, 1.0f);
                     }),
                     g.weight != nullptr);
}

void bind_graph(py::module_& m) {
    m.def("update_csr", &py_update_csr, py::arg("indptr"), py::arg("dst"), py::arg("rel"), py::arg("weight"),
          py::arg("n_nodes_new"), py::arg("add_heads"), py::arg("add_rels"), py::arg("add_tails"),
          py::arg("add_weights"), py::arg("remove_heads"), py::arg("remove_rels"), py::arg("remove_tails"),
          py::arg("add_inverse") = true, py::arg("max_bytes") = int64_t(1) << 34,
          "Merge added/removed triples into CSR arrays without a global re-sort; returns new arrays.");
    m.def("build_csr", &py_build_csr, py::arg("heads"), py::arg("rels"), py::arg("tails"),
          py::arg("weights") = py::none(), py::arg("n_nodes"), py::arg("n_rels"),
          py::arg("add_inverse") = true, py::arg("threads") = 1, py::arg("max_bytes") = int64_t(1) << 34,
          "Build CSR arrays (indptr, dst, rel, weight|None) from id triples; rows sorted by (rel, dst), "
          "duplicates dropped; relation ids are interleaved (2k forward, 2k+1 inverse) and n_rels counts both; "
          "with add_inverse every (h, 2k, t) also gives (t, 2k+1, h). Refuses (ValueError) a build estimated "
          "to need more than max_bytes (16 GiB by default).");
    m.def("validate_csr", &py_validate_csr, py::arg("indptr"), py::arg("dst"), py::arg("rel"),
          py::arg("weight") = py::none(), py::arg("n_rels_total"),
          "Raise if the arrays are not a valid sorted CSR graph.");
    m.def("has_edges", &py_has_edges, py::arg("indptr"), py::arg("dst"), py::arg("rel"), py::arg("heads"),
          py::arg("rels"), py::arg("tails"), "Vectorised edge membership test (out-of-range ids give False).");
}

}  // namespace km
