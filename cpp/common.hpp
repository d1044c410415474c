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
    if (indptr.data()[0] != 0 || indptr.data()[g.n_nodes] != g.n_edges)
        throw std::invalid_argument("indptr must start at 0 and end at len(dst)");
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
