// Awaitable calls onto shards, for commands that read or change other shards (SCAN, KEYS, DBSIZE,
// FLUSHALL, INFO). The caller is a coroutine on shard `home`'s thread; it stays suspended until the
// results are back, so `f` and whatever it captures by reference stay alive.
//
// Threading: f(Shard&) runs on the target shard's thread, and for call_on_all on every shard's
// thread concurrently, so f may touch only the shard it is given and its own result. The home
// shard's part runs inline (the local fast path) when no other owner holds it. Work on a held shard
// waits for the release (shard_hold.hpp); a caller that holds shards itself uses the session's
// on_shard / on_all_shards instead, which run f inline on the shards it holds. An exception thrown
// by f is rethrown here.
#pragma once

#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <tessera/server/shard/shard_set.hpp>

namespace tessera::server {

// Runs job(shard) on the thread of each shard in `targets` (in parallel) and resumes the caller
// on `home` once all have finished. `job` must not throw and may touch only the shard it is given
// (and state the caller owns per shard). Completions are counted on the home thread, so the count
// needs no atomic; the shared state only keeps the handler alive until the last one arrives.
template <class Job>
asio::awaitable<void> run_on_shards(ShardSet& set, asio::io_context& home,
                                    std::span<const unsigned> targets, Job& job) {
  if (targets.empty()) co_return;
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [&](auto handler) {
        using Handler = decltype(handler);
        struct Pending {
          std::size_t left;
          Handler handler;
        };
        auto pending = std::make_shared<Pending>(Pending{targets.size(), std::move(handler)});
        for (unsigned t : targets) {
          set.post(t, [&set, &home, &job, t, pending] {
            // A held shard runs the job once it is released (shard_hold.hpp).
            set.shard(t).when_free([&set, &home, &job, t, pending] {
              job(set.shard(t));
              asio::post(home, [pending] {
                if (--pending->left == 0) std::move(pending->handler)();
              });
            });
          });
        }
      },
      asio::use_awaitable);
}

template <class F>
auto call_on(ShardSet& set, unsigned home, unsigned target, F f)
    -> asio::awaitable<decltype(f(set.shard(target)))> {
  using R = decltype(f(set.shard(target)));
  if (target == home && set.shard(home).holder() == 0) co_return f(set.shard(target));
  std::optional<R> result;
  std::exception_ptr error;
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [&](auto handler) {
        set.post(target, [&, h = std::move(handler)]() mutable {
          // A held shard runs f once it is released (shard_hold.hpp).
          set.shard(target).when_free([&, h = std::move(h)]() mutable {
            try {
              result.emplace(f(set.shard(target)));
            } catch (...) {
              error = std::current_exception();
            }
            asio::post(std::move(h));  // back to the caller's executor (the home shard)
          });
        });
      },
      asio::use_awaitable);
  if (error) std::rethrow_exception(error);
  co_return std::move(*result);
}

template <class F>
auto call_on_all(ShardSet& set, unsigned home, F f)
    -> asio::awaitable<std::vector<decltype(f(set.shard(0)))>> {
  using R = decltype(f(set.shard(0)));
  const unsigned n = set.size();
  std::vector<std::optional<R>> slots(n);
  std::vector<std::exception_ptr> errors(n);
  // The home shard's part runs inline, unless another owner holds it: then it waits like the rest.
  const bool home_inline = set.shard(home).holder() == 0;
  if (n > 1 || !home_inline) {
    std::vector<unsigned> others;
    for (unsigned i = 0; i < n; ++i) {
      if (i != home || !home_inline) others.push_back(i);
    }
    auto job = [&](Shard& shard) {
      try {
        slots[shard.id()].emplace(f(shard));
      } catch (...) {
        errors[shard.id()] = std::current_exception();
      }
    };
    co_await run_on_shards(set, set.shard(home).context(), others, job);
  }
  if (home_inline) {
    if (set.shard(home).holder() == 0) {
      slots[home].emplace(f(set.shard(home)));
    } else {
      // Taken while the others ran: wait for the release like any other job.
      auto job = [&](Shard& shard) {
        try {
          slots[shard.id()].emplace(f(shard));
        } catch (...) {
          errors[shard.id()] = std::current_exception();
        }
      };
      const unsigned only[] = {home};
      co_await run_on_shards(set, set.shard(home).context(), only, job);
    }
  }
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  std::vector<R> results;
  results.reserve(n);
  for (auto& s : slots) results.push_back(std::move(*s));
  co_return results;
}

}  // namespace tessera::server
