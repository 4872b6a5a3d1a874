// Shard holds: how an operation on keys of several shards is made atomic for every observer
// (MSET, MSETNX, MGET, RENAME/RENAMENX/COPY between shards, and MULTI/EXEC) in the share-nothing
// model, without a global lock and without ever blocking a thread.
//
// Design (after Dragonfly's transaction design, docs/transaction.md: shard-local locks taken in one
// global order; here a whole shard is the unit, not a key):
//   - A shard can be *held* by one owner (a session id; Shard::holder). While it is held, the
//     shard's thread keeps running its io_context (network reads, parsing, timers, the coordinator
//     coroutines of sessions that live there) but runs no work that touches its Store: every such
//     piece of work enters through Shard::when_free, which runs it at once when the shard is free
//     and otherwise queues it (FIFO) until the release. The entry points are the session's own
//     command loop (before each command: its home shard must be free), the jobs the session and
//     shard_calls.hpp post to other shards, and whatever a shard runs on its own timers that reads
//     or writes the store (e.g. active expiry).
//   - An atomic operation is coordinated by the session that runs it, on its home shard's thread:
//     hold_shards() takes the shards it involves ONE AFTER THE OTHER IN ASCENDING INDEX ORDER (the
//     request travels: shard i, once taken, forwards it to the next; the last one resumes the
//     coordinator). A shard that is held queues the request behind the work already waiting.
//   - With all of them held, the coordinator runs the operation itself, on its own thread, against
//     the held shards' stores directly (no hop per command; replies are written in order straight
//     into the session's buffer). This is safe: the holder is the only thread touching a held
//     store, and ownership passes with a post in each direction (the shard's take -> the
//     coordinator's resume; the coordinator's writes -> the release posted to the shard), each a
//     happens-before edge through the io_context's queue.
//   - release_shards() posts the release to each held shard (the home shard's runs inline): it
//     drops the hold and runs the waiting work in order until one of it takes the shard again.
//   - Shards not involved are never touched and keep serving; a held shard keeps accepting and
//     parsing, and serves again the moment it is released.
//
// Why it cannot deadlock: threads never block, so the only waiting is for holds, and an owner
// waiting for shard j holds only shards with indexes below j (it takes them in ascending order
// and waits for one at a time). In any chain "owner A waits for a shard held by B, B waits for a
// shard held by C, ..." the index of the awaited shard strictly increases, so the chain cannot
// come back to A: there is no cycle, and the owner holding the highest awaited shard is waiting
// for nothing and completes (an atomic operation runs synchronously once its shards are held,
// and releases them). Work queued behind a hold holds nothing, so it cannot be part of a cycle.
// A session waits for its home shard only between commands, holding nothing. Fairness: waiting
// work and hold requests share one FIFO per shard, so a stream of holders cannot starve readers.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <tessera/server/shard/shard_set.hpp>

namespace tessera::server {

// Takes every shard in `shards` (ascending, no repeats) for `owner`, in that order, and resumes
// the caller, a coroutine on shard `home`'s thread, once all are held. The caller must hold none
// of them already.
inline asio::awaitable<void> hold_shards(ShardSet& set, unsigned home, std::uint64_t owner,
                                         std::span<const unsigned> shards) {
  std::size_t first = 0;
  // The home shard can be taken inline when it comes first and is free (the caller runs on it).
  if (!shards.empty() && shards[0] == home && set.shard(home).holder() == 0) {
    set.shard(home).hold(owner);
    first = 1;
  }
  if (first == shards.size()) co_return;
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [&](auto handler) {
        using Handler = decltype(handler);
        struct Chain {
          ShardSet& set;
          unsigned home;
          std::uint64_t owner;
          std::vector<unsigned> shards;
          std::size_t next;
          Handler handler;
        };
        auto chain = std::make_shared<Chain>(
            Chain{set, home, owner, std::vector<unsigned>(shards.begin() + first, shards.end()), 0,
                  std::move(handler)});
        // One step: on shard shards[next]'s thread, take it (now or once released), then forward
        // to the next shard, or resume the coordinator after the last.
        struct Step {
          std::shared_ptr<Chain> chain;
          void operator()() const {
            const unsigned s = chain->shards[chain->next];
            Shard& shard = chain->set.shard(s);
            shard.when_free([c = chain, &shard] {
              shard.hold(c->owner);
              if (++c->next < c->shards.size()) {
                c->set.post(c->shards[c->next], Step{c});
              } else {
                c->set.post(c->home, [c] { std::move(c->handler)(); });
              }
            });
          }
        };
        set.post(chain->shards[0], Step{chain});
      },
      asio::use_awaitable);
}

// Releases `shards`, held by the caller (a coroutine on shard `home`'s thread): the home shard at
// once, the others by a post each. Never waits.
inline void release_shards(ShardSet& set, unsigned home, std::span<const unsigned> shards) {
  for (unsigned s : shards) {
    if (s == home) {
      set.shard(s).release();
    } else {
      set.post(s, [&shard = set.shard(s)] { shard.release(); });
    }
  }
}

}  // namespace tessera::server
