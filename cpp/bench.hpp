// knowledge-mixer benchmarks: reference kernels the production ones are measured against.
//
// Plain C++17, no Python. Nothing here is an API or used by the pipeline; it lives apart from the
// production headers so that a change to a yardstick can never change what users get.
#pragma once

#include <algorithm>
#include <cstdint>

#include "walk.hpp"

namespace km {

// The barest uniform walk loop: node ids only, no relations, no checks, no padding bookkeeping beyond
// stopping. `block` walks advance in lock-step (block = 1 is the classic one-walk-at-a-time loop).
// It is the yardstick the production kernel is measured against, not an API.
inline void bare_uniform_walks(const int64_t* indptr, const node_t* dst, const node_t* starts, int64_t W,
                               int64_t length, uint64_t seed, int block, node_t* nodes) {
    constexpr int MAXB = 64;
    const int B = std::max(1, std::min(block, MAXB));
    const int64_t L1 = length + 1;
    node_t cur[MAXB];
    int64_t edge[MAXB];
    SplitMix64 rng[MAXB];
    for (int64_t b0 = 0; b0 < W; b0 += B) {
        const int nb = static_cast<int>(std::min<int64_t>(B, W - b0));
        for (int j = 0; j < nb; ++j) {
            cur[j] = starts[b0 + j];
            rng[j] = SplitMix64::for_walk(seed, static_cast<uint64_t>(b0 + j));
            nodes[(b0 + j) * L1] = cur[j];
        }
        for (int64_t t = 0; t < length; ++t) {
            for (int j = 0; j < nb; ++j) {
                if (cur[j] < 0) { edge[j] = -1; continue; }
                const int64_t lo = indptr[cur[j]], d = indptr[cur[j] + 1] - lo;
                edge[j] = d ? lo + static_cast<int64_t>(rng[j].below(static_cast<uint64_t>(d))) : -1;
                if (d) __builtin_prefetch(dst + edge[j]);
            }
            for (int j = 0; j < nb; ++j) {
                const node_t nxt = edge[j] < 0 ? -1 : dst[edge[j]];
                nodes[(b0 + j) * L1 + t + 1] = nxt;
                cur[j] = nxt;
                if (nxt >= 0) __builtin_prefetch(indptr + nxt);
            }
        }
    }
}

}  // namespace km
