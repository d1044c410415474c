// The pybind11 module knowledge_mixer._core: one entry point; each engine part binds itself.
#include "common.hpp"

PYBIND11_MODULE(_core, m) {
    m.doc() = "knowledge-mixer C++ engine: CSR knowledge graph and its kernels.";
    km::bind_graph(m);
    km::bind_walk(m);
    km::bind_paths(m);
    km::bind_bench(m);
}
