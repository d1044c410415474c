// Bindings for the benchmark-only kernels (bench.hpp): checked like every other entry point, timed here.
#include "bench.hpp"
#include "common.hpp"

#include <chrono>

namespace km {

static py::tuple py_bench_bare_uniform(const offs64& indptr, const ids32& dst, const ids32& starts, int64_t length,
                                       uint64_t seed, int block, int64_t max_bytes) {
    require_1d(indptr, "indptr");
    require_1d(dst, "dst");
    // the bare loop reads rows and targets unchecked, so the whole graph is checked first
    check_offsets_span(indptr.data(), indptr.size(), dst.size(), "indptr", "len(dst)");
    const int64_t n = indptr.size() - 1;
    check_offsets_order(indptr.data(), n, "indptr", "node ");
    check_ids(dst.data(), dst.size(), n, "dst");
    check_starts(starts, n);
    check_block(block);
    const int64_t W = checked_walk_count(starts.size(), 1, length, max_bytes);
    py::array_t<int32_t> nodes({W, length + 1});
    int32_t* np_ = nodes.mutable_data();
    double seconds;
    {
        py::gil_scoped_release nogil;
        auto t0 = std::chrono::steady_clock::now();
        bare_uniform_walks(indptr.data(), dst.data(), starts.data(), W, length, seed, block, np_);
        seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    return py::make_tuple(nodes, seconds);
}

void bind_bench(py::module_& m) {
    m.def("bench_bare_uniform", &py_bench_bare_uniform, py::arg("indptr"), py::arg("dst"), py::arg("starts"),
          py::arg("length"), py::arg("seed") = 0, py::arg("block") = 32, py::arg("max_bytes") = int64_t(1) << 32,
          "Benchmark yardstick only: the barest uniform walk loop (node ids only, one walk per start), "
          "`block` walks in lock-step (1 = one walk at a time). Returns (nodes, kernel seconds): "
          "the time excludes the argument checks, so the yardstick is not slowed by them.");
}

}  // namespace km
