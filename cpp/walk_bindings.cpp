// Bindings for the walk kernels: argument checks at the boundary, outputs allocated here, GIL released.
#include "common.hpp"
#include "walk.hpp"

#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>

namespace km {

// A double as a short decimal ("0.1", "nan", "inf"), for error messages.
static std::string num(double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", x);
    return buf;
}

// The aux builders loop over rows unchecked: a decreasing indptr would send them out of bounds.
static void check_rows_ordered(const CSRView& g) { check_offsets_order(g.indptr, g.n_nodes, "indptr", "node "); }

static WalkMode parse_mode(const std::string& mode) {
    if (mode == "uniform") return WalkMode::uniform;
    if (mode == "weighted") return WalkMode::weighted;
    if (mode == "node2vec") return WalkMode::node2vec;
    if (mode == "restart") return WalkMode::restart;
    throw std::invalid_argument("mode must be 'uniform', 'weighted', 'node2vec' or 'restart', got '" + mode + "'");
}

// The walk range [first, first + count) of W = n_starts * n_walks walks (count < 0: to the end), checked;
// returns the number of walks in it. Only the range is allocated, so max_bytes applies to it.
static int64_t checked_walk_range(int64_t n_starts, int64_t n_walks, int64_t length, int64_t first, int64_t& count,
                                  int64_t max_bytes) {
    if (n_walks < 0) throw std::invalid_argument("n_walks must be >= 0, got " + std::to_string(n_walks));
    if (static_cast<double>(n_starts) * n_walks > 9.0e18)
        throw std::invalid_argument("len(starts) * n_walks overflows 64 bits; use fewer starts/walks");
    const int64_t W = n_starts * n_walks;
    if (first < 0 || first > W)
        throw std::out_of_range("first = " + std::to_string(first) + " is not a walk index in [0, " + std::to_string(W) +
                                "] (W = len(starts) * n_walks)");
    if (count < 0) count = W - first;
    if (count > W - first)
        throw std::out_of_range("first + count = " + std::to_string(first) + " + " + std::to_string(count) +
                                " runs past the " + std::to_string(W) + " walks (W = len(starts) * n_walks)");
    checked_walk_count(count, 1, length, max_bytes);
    return count;
}

static py::tuple py_random_walks(const offs64& indptr, const ids32& dst,
                                 const ids32& rel, const ids32& starts, int64_t n_walks,
                                 int64_t length, const std::string& mode, double p, double q, double alpha,
                                 uint64_t seed, int threads, const py::object& cumw, const py::object& sorted_dst,
                                 const py::object& packed, int block, int64_t max_bytes, int64_t first,
                                 int64_t count) {
    CSRView g = csr_view(indptr, dst, rel, py::none());
    WalkParams P;
    P.mode = parse_mode(mode);
    if (!(p > 0) || !std::isfinite(p)) throw std::invalid_argument("p must be finite and > 0, got " + num(p));
    if (!(q > 0) || !std::isfinite(q)) throw std::invalid_argument("q must be finite and > 0, got " + num(q));
    if (!(alpha >= 0 && alpha <= 1))
        throw std::invalid_argument("alpha must be in [0, 1] (a restart probability), got " + num(alpha));
    check_threads(threads);
    check_block(block);
    P.p = p; P.q = q; P.alpha = alpha; P.seed = seed; P.threads = threads; P.block = block;
    check_starts(starts, g.n_nodes);
    const int64_t n_starts = starts.size();
    const int64_t W = checked_walk_range(n_starts, n_walks, length, first, count, max_bytes);
    WalkAux aux;
    carray<double> cw;
    carray<int32_t> sd;
    if (P.mode == WalkMode::weighted) {
        if (cumw.is_none()) throw std::invalid_argument("weighted mode needs the cumulative weights (cumw)");
        cw = checked_float_array<double>(cumw, "cumw");
        if (cw.ndim() != 1 || cw.size() != g.n_edges) throw std::invalid_argument("cumw must have one entry per edge");
        aux.cumw = cw.data();
    }
    if (P.mode == WalkMode::node2vec) {
        if (sorted_dst.is_none()) throw std::invalid_argument("node2vec mode needs the dst-sorted rows (sorted_dst)");
        sd = checked_int_array<int32_t>(sorted_dst);
        if (sd.ndim() != 1 || sd.size() != g.n_edges)
            throw std::invalid_argument("sorted_dst must have one entry per edge");
        aux.sorted_dst = sd.data();
    }
    carray<int32_t> pk;
    std::vector<int32_t> pk_local;
    if (!packed.is_none()) {
        pk = checked_int_array<int32_t>(packed);
        if (pk.ndim() != 1 || pk.size() != 2 * g.n_edges)
            throw std::invalid_argument("packed must hold 2 entries (dst, rel) per edge");
        aux.packed = pk.data();
    }
    // One buffer for both outputs; from 2 MiB up it is 2 MiB-aligned and marked for transparent huge
    // pages, so first touch costs a few faults instead of one per 4 KiB page.
    const size_t n_nodes_out = static_cast<size_t>(W) * (length + 1), n_rels_out = static_cast<size_t>(W) * length;
    const size_t bytes = std::max<size_t>(4 * (n_nodes_out + n_rels_out), 4);
    constexpr size_t HUGE = size_t(1) << 21;
    void* buf = nullptr;
    if (bytes >= HUGE) {
        if (posix_memalign(&buf, HUGE, (bytes + HUGE - 1) / HUGE * HUGE) != 0) buf = nullptr;
#ifdef MADV_HUGEPAGE
        else madvise(buf, (bytes + HUGE - 1) / HUGE * HUGE, MADV_HUGEPAGE);
#endif
    } else {
        buf = std::malloc(bytes);
    }
    if (!buf) throw std::bad_alloc();
    py::capsule owner(buf, [](void* q) { std::free(q); });
    int32_t* np_ = static_cast<int32_t*>(buf);
    int32_t* rp = np_ + n_nodes_out;
    py::array_t<int32_t> nodes({W, length + 1}, {static_cast<int64_t>(4 * (length + 1)), int64_t(4)}, np_, owner);
    py::array_t<int32_t> rels({W, length}, {static_cast<int64_t>(4 * length), int64_t(4)}, rp, owner);
    without_gil([&] {
        if (!aux.packed) {
            pk_local = packed_edges(g);
            aux.packed = pk_local.data();
        }
        random_walks(g, aux, starts.data(), n_starts, n_walks, length, P, np_, rp, first, W);
    });
    return py::make_tuple(nodes, rels);
}

static carray<double> py_row_cumulative_weights(const offs64& indptr, const ids32& dst,
                                                const ids32& rel, const py::object& weight) {
    if (weight.is_none()) throw std::invalid_argument("row_cumulative_weights needs the edge weights (got None)");
    carray<float> w;
    CSRView g = csr_view(indptr, dst, rel, weight, &w);
    check_rows_ordered(g);
    return to_numpy(without_gil([&] { return row_cumulative_weights(g); }));
}

static carray<int32_t> py_row_sorted_dst(const offs64& indptr, const ids32& dst,
                                         const ids32& rel) {
    CSRView g = csr_view(indptr, dst, rel, py::none());
    check_rows_ordered(g);
    return to_numpy(without_gil([&] { return row_sorted_dst(g); }));
}

void bind_walk(py::module_& m) {
    m.def("random_walks", &py_random_walks, py::arg("indptr"), py::arg("dst"), py::arg("rel"), py::arg("starts"),
          py::arg("n_walks"), py::arg("length"), py::arg("mode") = "uniform", py::arg("p") = 1.0,
          py::arg("q") = 1.0, py::arg("alpha") = 0.0, py::arg("seed") = 0, py::arg("threads") = 1,
          py::arg("cumw") = py::none(), py::arg("sorted_dst") = py::none(), py::arg("packed") = py::none(), py::arg("block") = 64,
          py::arg("max_bytes") = int64_t(1) << 32, py::arg("first") = 0, py::arg("count") = -1,
          "Relation-labelled random walks: (nodes[W, L+1], rels[W, L]) int32, W = len(starts) * n_walks, "
          "walk w starts at starts[w // n_walks]; -1 pads after a dead end, rel -2 marks a restart. "
          "Deterministic for a seed whatever the thread count. first/count return only walks "
          "[first, first + count) (count -1: to the end), each identical to the same row of the full call, "
          "so a large batch can be computed in chunks. Pass the cached aux arrays (packed_edges, "
          "row_cumulative_weights for 'weighted', row_sorted_dst for 'node2vec') to skip rebuilding them.");
    m.def("row_cumulative_weights", &py_row_cumulative_weights, py::arg("indptr"), py::arg("dst"), py::arg("rel"),
          py::arg("weight"), "Per-row inclusive prefix sums of edge weights (float64), for weighted walks.");
    m.def("row_sorted_dst", &py_row_sorted_dst, py::arg("indptr"), py::arg("dst"), py::arg("rel"),
          "A per-row copy of dst sorted by dst, for node2vec's neighbour test.");
    m.def("packed_edges", [](const offs64& indptr, const ids32& dst, const ids32& rel) {
              CSRView g = csr_view(indptr, dst, rel, py::none());
              return to_numpy(without_gil([&] { return packed_edges(g); }));
          }, py::arg("indptr"), py::arg("dst"), py::arg("rel"),
          "(dst, rel) interleaved per edge (int32[2 * n_edges]): the walk kernels' edge layout, one cache line per step. "
          "Pass it to random_walks to skip rebuilding it on every call.");
}

}  // namespace km
