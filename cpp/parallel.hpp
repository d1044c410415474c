// knowledge-mixer engine: the one thread pool every kernel runs on.
//
// Plain C++17, no Python. Work is an index range cut into chunks; workers take chunks in increasing order
// from a shared counter. Kernels derive their randomness from the item index (never from the worker), so a
// result does not depend on how many workers there are or which chunk each one took.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace km {

// Chunk size that gives each of `threads` workers one contiguous share of n items: for kernels whose items
// cost about the same, where one large range per worker beats handing out many small ones.
inline int64_t even_grain(int64_t n, int threads) {
    const int64_t t = std::max(1, threads);
    return std::max<int64_t>(1, (n + t - 1) / t);
}

// Call fn(lo, hi, worker) on every chunk [lo, hi) of [0, n) (chunks of `grain` items, the last one shorter),
// with up to `threads` workers; `worker` in [0, workers) lets a kernel index per-worker scratch.
// A worker that throws stops the hand-out of new chunks; after the join the exception of the lowest failing
// chunk is rethrown. Chunks are handed out in order, so every chunk below it has run to completion: that is
// the same error a one-thread run meets first, whatever the thread count and timing.
template <typename Fn>
void parallel_for(int64_t n, int threads, int64_t grain, Fn&& fn) {
    if (n <= 0) return;
    grain = std::max<int64_t>(1, grain);
    const int64_t n_chunks = (n + grain - 1) / grain;
    auto chunk = [&](int64_t c, int worker) { fn(c * grain, std::min(n, (c + 1) * grain), worker); };
    const int workers = static_cast<int>(std::clamp<int64_t>(threads, 1, n_chunks));
    if (workers == 1) {  // no pool: the calling thread runs the chunks, and an exception simply propagates
        for (int64_t c = 0; c < n_chunks; ++c) chunk(c, 0);
        return;
    }
    std::atomic<int64_t> next{0};
    std::mutex error_lock;
    std::exception_ptr error;
    int64_t error_chunk = n_chunks;
    auto work = [&](int worker) {
        for (int64_t c; (c = next.fetch_add(1)) < n_chunks;) {
            try {
                chunk(c, worker);
            } catch (...) {
                std::lock_guard<std::mutex> lock(error_lock);
                if (c < error_chunk) { error_chunk = c; error = std::current_exception(); }
                next.store(n_chunks);
                return;
            }
        }
    };
    std::vector<std::thread> pool;
    pool.reserve(workers - 1);
    try {
        for (int t = 1; t < workers; ++t) pool.emplace_back(work, t);
    } catch (...) {  // no more threads to be had: stop the ones started, so none is left joinable on unwind
        next.store(n_chunks);
        for (auto& th : pool) th.join();
        throw;
    }
    work(0);  // the caller is worker 0 instead of idling in join
    for (auto& th : pool) th.join();
    if (error) std::rethrow_exception(error);
}

}  // namespace km
