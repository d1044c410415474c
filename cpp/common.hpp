// Glue shared by the binding files: numpy <-> C++ conversions and argument checks.
// Only bindings include this; the engine headers stay free of Python.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <limits>
#include <string>
#include <vector>

#include "graph.hpp"

namespace py = pybind11;

namespace km {

template <typename T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

// Integer arrays handed in from Python (ids, offsets): any integer dtype, list or strided view is accepted,
// but a value that does not fit T, or a non-integer dtype (float, str, object), raises instead of being
// silently wrapped or truncated by numpy's unsafe cast (forcecast alone would turn id 2^32 + 1 into 1).
template <typename T>
struct int_array {
    carray<T> a;
    const T* data() const { return a.data(); }
    py::ssize_t size() const { return a.size(); }
    py::ssize_t ndim() const { return a.ndim(); }
    operator const carray<T>&() const { return a; }
};
using ids32 = int_array<int32_t>;   // node and relation ids
using offs64 = int_array<int64_t>;  // indptr and offsets

template <typename T>
carray<T> checked_int_array(py::handle src) {
    py::array a = py::array::ensure(src);
    if (!a) throw py::type_error("expected an integer array, got " + py::repr(src).cast<std::string>());
    const char kind = a.dtype().kind();
    auto dt = [&] { return py::str(a.dtype()).cast<std::string>(); };  // only on the error paths: it costs a Python call
    if (a.size() > 0 && kind != 'i' && kind != 'u' && kind != 'b')
        throw py::type_error("expected an integer array, got dtype " + dt() + "; ids and offsets must be integers "
                             "(convert with np.asarray(x, np.int64) after checking the values)");
    const auto width = static_cast<size_t>(a.dtype().itemsize());
    if (a.size() > 0 && ((kind == 'i' && width > sizeof(T)) || (kind == 'u' && width >= sizeof(T)))) {
        py::object lo = a.attr("min")(), hi = a.attr("max")();
        const py::int_ tmin(std::numeric_limits<T>::min()), tmax(std::numeric_limits<T>::max());
        for (const py::object& v : {lo, hi})
            if (v.attr("__lt__")(tmin).cast<bool>() || v.attr("__gt__")(tmax).cast<bool>()) {
                PyErr_SetString(PyExc_OverflowError,
                                ("an integer array (dtype " + dt() + ") holds " + py::str(v).cast<std::string>() +
                                 ", which does not fit " + (sizeof(T) == 4 ? "int32" : "int64") + " [" +
                                 std::to_string(std::numeric_limits<T>::min()) + ", " +
                                 std::to_string(std::numeric_limits<T>::max()) + "]").c_str());
                throw py::error_already_set();
            }
    }
    return carray<T>::ensure(a);
}

// Float arrays (weights): any real dtype; str/object dtypes raise TypeError.
template <typename T>
carray<T> checked_float_array(py::handle src, const char* name) {
    py::array a = py::array::ensure(src);
    if (!a) throw py::type_error(std::string(name) + " must be an array of numbers, got " + py::repr(src).cast<std::string>());
    const char kind = a.dtype().kind();
    if (a.size() > 0 && kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b')
        throw py::type_error(std::string(name) + " must be an array of numbers, got dtype " +
                             py::str(a.dtype()).cast<std::string>());
    return carray<T>::ensure(a);
}

// Hand a std::vector to numpy without copying: the array owns the moved vector.
template <typename T>
py::array_t<T> to_numpy(std::vector<T>&& v) {
    auto* heap = new std::vector<T>(std::move(v));
    py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
    return py::array_t<T>({static_cast<py::ssize_t>(heap->size())}, {sizeof(T)}, heap->data(), owner);
}

template <typename A>
void require_1d(const A& a, const char* name) {
    if (a.ndim() != 1)
        throw std::invalid_argument(std::string(name) + " must be a 1-d array, got " + std::to_string(a.ndim()) + " dimensions");
}

// Every ids array is range-checked at the boundary, so the kernels can index with them unchecked.
inline void check_ids(const int32_t* xs, int64_t n, int64_t limit, const char* what) {
    for (int64_t i = 0; i < n; ++i)
        if (xs[i] < 0 || xs[i] >= limit)
            throw std::out_of_range(std::string(what) + "[" + std::to_string(i) + "] = " + std::to_string(xs[i]) +
                                    " is out of range [0, " + std::to_string(limit) + ")");
}

// The one boundary check of an offsets array (a CSR indptr, per-question ranges), in two parts because some
// callers check only the ends: its n_ptr entries run from 0 to n_items (`end` names n_items in the message)...
inline void check_offsets_span(const int64_t* ptr, int64_t n_ptr, int64_t n_items, const std::string& what,
                               const std::string& end) {
    if (n_ptr < 1 || ptr[0] != 0 || ptr[n_ptr - 1] != n_items)
        throw std::invalid_argument(what + " must start at 0 and end at " + end);
}

// ... and never decrease, or some row's range would leave the item arrays (`at` prefixes the row number).
inline void check_offsets_order(const int64_t* ptr, int64_t n_rows, const std::string& what, const char* at) {
    if (const int64_t v = first_decreasing_row(ptr, n_rows); v >= 0)
        throw std::invalid_argument(what + " must be non-decreasing (at " + at + std::to_string(v) + ")");
}

// Every kernel's thread count is bounded: a typo such as threads=10**6 must be an error, not a million threads.
inline void check_threads(int threads) {
    if (threads < 1 || threads > 1024) throw std::invalid_argument("threads must be in [1, 1024], got " + std::to_string(threads));
}

inline void check_max_bytes(int64_t max_bytes) {
    if (max_bytes < 0) throw std::invalid_argument("max_bytes must be >= 0, got " + std::to_string(max_bytes));
}

// Lock-step walk kernels keep a block of walks in fixed-size arrays of 64.
inline void check_block(int block) {
    if (block < 1 || block > 64) throw std::invalid_argument("block must be in [1, 64], got " + std::to_string(block));
}

inline void check_starts(const ids32& starts, int64_t n_nodes) {
    require_1d(starts, "starts");
    const int32_t* s = starts.data();
    for (py::ssize_t i = 0; i < starts.size(); ++i)
        if (s[i] < 0 || s[i] >= n_nodes)
            throw std::out_of_range("starts[" + std::to_string(i) + "] = " + std::to_string(s[i]) +
                                    " is not a node id in [0, " + std::to_string(n_nodes) + ")");
}

// W * (L+1) node ids plus W * L relation ids, without overflow; throws past max_bytes.
inline int64_t checked_walk_count(int64_t n_starts, int64_t n_walks, int64_t length, int64_t max_bytes) {
    if (n_walks < 0) throw std::invalid_argument("n_walks must be >= 0, got " + std::to_string(n_walks));
    if (length < 0) throw std::invalid_argument("length must be >= 0, got " + std::to_string(length));
    check_max_bytes(max_bytes);
    const double bytes = static_cast<double>(n_starts) * n_walks * (2.0 * length + 1) * 4;
    if (bytes > static_cast<double>(max_bytes))
        throw std::invalid_argument("walk output would need " + std::to_string(static_cast<int64_t>(bytes / 1048576)) +
                                    " MiB, over the limit of " + std::to_string(max_bytes / 1048576) +
                                    " MiB; use fewer starts/walks, shorter walks, or raise max_bytes");
    // length + 1 sizes the output even when no walk is asked for (no starts): keep it far from overflow
    if (length > INT32_MAX) throw std::invalid_argument("length must be < 2^31, got " + std::to_string(length));
    return n_starts * n_walks;
}

// An optional float array with one entry per item: nullptr for None; otherwise the data, kept alive in `keep`.
// `size_error` is the whole message for a wrong shape, since each caller counts a different kind of item.
inline const float* optional_floats(const py::object& x, int64_t n, const char* name, const std::string& size_error,
                                    carray<float>& keep) {
    if (x.is_none()) return nullptr;
    keep = checked_float_array<float>(x, name);
    if (keep.ndim() != 1 || keep.size() != n) throw std::invalid_argument(size_error);
    return keep.data();
}

// Run a kernel with the GIL released: kernels never touch Python objects, so other Python threads keep
// running meanwhile. Whatever f returns (a C++ value) is handed back once the GIL is held again.
template <typename F>
auto without_gil(F&& f) {
    py::gil_scoped_release nogil;
    return f();
}

// A CSRView over numpy arrays, checked for consistent sizes (not content: see validate_csr).
inline CSRView csr_view(const carray<int64_t>& indptr, const carray<int32_t>& dst,
                        const carray<int32_t>& rel, const py::object& weight, carray<float>* keep = nullptr) {
    require_1d(indptr, "indptr");
    require_1d(dst, "dst");
    require_1d(rel, "rel");
    if (indptr.size() < 1) throw std::invalid_argument("indptr must have n_nodes + 1 >= 1 entries");
    CSRView g;
    g.n_nodes = indptr.size() - 1;
    g.n_edges = dst.size();
    if (rel.size() != g.n_edges) throw std::invalid_argument("dst and rel must have the same length");
    g.indptr = indptr.data();
    g.dst = dst.data();
    g.rel = rel.data();
    check_offsets_span(g.indptr, indptr.size(), g.n_edges, "indptr", "len(dst)");
    if (!weight.is_none()) {
        if (!keep) throw std::logic_error("csr_view: a weighted view needs somewhere to keep the weights");
        *keep = checked_float_array<float>(weight, "weight");
        if (keep->ndim() != 1 || keep->size() != g.n_edges)
            throw std::invalid_argument("weight must be a 1-d array with one entry per edge (" +
                                        std::to_string(g.n_edges) + "), got " + std::to_string(keep->size()));
        g.weight = keep->data();
    }
    return g;
}

void bind_graph(py::module_& m);
void bind_walk(py::module_& m);
void bind_paths(py::module_& m);
void bind_bench(py::module_& m);

}  // namespace km

namespace pybind11 {
namespace detail {
template <typename T>
struct type_caster<km::int_array<T>> {
    PYBIND11_TYPE_CASTER(km::int_array<T>, const_name("numpy.ndarray[") + make_caster<T>::name + const_name("]"));
    bool load(handle src, bool) {
        if (src.is_none()) return false;
        value.a = km::checked_int_array<T>(src);
        return true;
    }
    static handle cast(const km::int_array<T>& x, return_value_policy, handle) { return x.a.inc_ref(); }
};
}  // namespace detail
}  // namespace pybind11
