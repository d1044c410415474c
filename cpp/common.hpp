// Glue shared by the binding files: numpy <-> C++ conversions and argument checks.
// Only bindings include this; the engine headers stay free of Python.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "graph.hpp"

namespace py = pybind11;

namespace km {

template <typename T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

// Hand a std::vector to numpy without copying: the array owns the moved vector.
template <typename T>
py::array_t<T> to_numpy(std::vector<T>&& v) {
    auto* heap = new std::vector<T>(std::move(v));
    py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
    return py::array_t<T>({static_cast<py::ssize_t>(heap->size())}, {sizeof(T)}, heap->data(), owner);
}

template <typename T>
void require_1d(const carray<T>& a, const char* name) {
    if (a.ndim() != 1) throw std::invalid_argument(std::string(name) + " must be a 1-d array");
}

// A CSRView over numpy arrays, checked for consistent sizes (not content: see validate_csr).
inline CSRView csr_view(const carray<int64_t>& indptr, const carray<int32_t>& dst,
                        const carray<int32_t>& rel, const py::object& weight) {
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
        auto w = weight.cast<carray<float>>();
        if (w.ndim() != 1 || w.size() != g.n_edges)
            throw std::invalid_argument("weight must be a 1-d array with one entry per edge");
        g.weight = w.data();
    }
    return g;
}

void bind_graph(py::module_& m);
void bind_walk(py::module_& m);
void bind_paths(py::module_& m);

}  // namespace km
