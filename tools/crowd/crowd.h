// The crowd: many connections held open against one server from one epoll thread, each of one
// kind (idle, silent, trickling upload, slow head, busy, and the attacks of issue #10: slow
// reader, lingerer, reconnecting silent connection), with what the server did to them
// recorded: refused connects, early answers (408, 503, ...) and closes, each with when it
// happened. Busy connections are the exception that does work: a closed loop of small requests
// (requests/s and latency), for HEAD answers that wrk cannot frame.
//
// Single thread, non-blocking sockets, level-triggered epoll; the trickle clock is a wheel of
// 10 ms buckets, so a tick touches only the connections due in it. Every connection is closed
// with a reset at the end (SO_LINGER 0): rounds of 10,000 connections would otherwise leave
// 10,000 TIME_WAIT sockets each on loopback's ephemeral ports.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tools/crowd/options.h"

namespace ringest::crowd {

// How many times something happened, and when the first and last time were (seconds since the
// crowd started).
struct Occurrences {
  uint64_t count = 0;
  double first_s = 0;
  double last_s = 0;
  std::map<uint32_t, uint64_t> per_second;  // whole second since the start -> count
  void add(double at_s);
};

struct KindStats {
  uint64_t planned = 0;
  uint64_t connect_failed = 0;      // socket() or connect() failed
  uint64_t established = 0;         // TCP connection completed
  uint64_t ready = 0;               // set-up done: idle after its OPTIONS answer, trickle after 201
  uint64_t setup_failed = 0;        // an unexpected answer or a close during set-up
  uint64_t held_at_end = 0;         // still open and held when the run ended
  uint64_t expected_responses = 0;  // slow heads: answers to heads that we completed
  // Answers other than the set-up's expected ones, by status (set-up and held phases alike).
  std::map<int, Occurrences> answers;
  Occurrences closed_without_answer;  // EOF or reset from the server with no answer first
  uint64_t resets = 0;                // of those, by a reset (ECONNRESET / EPIPE)
  // Every EOF or reset from the server, answered first or not: for the attack kinds, which keep
  // their connection after an answer (a lingerer's 404, a slow reader's 200) until it closes.
  Occurrences closed_by_server;
  uint64_t reconnects = 0;  // attack kinds: connections opened again after a close or refusal
};

struct CrowdStats {
  std::string url;
  // idle: one OPTIONS answered, then quiet (a keep-alive connection between requests);
  // silent: connected and never sent a byte (--idle-request none or mixed).
  KindStats idle, silent, trickle, slow_head;
  // busy: closed loop; expected_responses counts the 2xx answers, `answers` the others.
  KindStats busy;
  // Attacks (issue #10), each reconnecting when closed or refused: slow readers (a GET never
  // read; the peeked status is in `answers`), lingerers (an early answer, then a body trickling
  // into a lingering close) and silent connections (the head timeout and the connection cap).
  KindStats slow_reader, lingerer, silent_attack;
  std::vector<uint32_t> busy_latency_us;  // one per answered request (capped, see crowd.cc)
  double busy_start_s = 0;                // the first busy connection was ready
  std::map<std::string, uint64_t> connect_errors;  // errno name -> count
  uint64_t trickle_rate_bytes_per_s = 0;
  uint64_t trickle_chunk_bytes = 0;
  uint64_t trickle_interval_ms = 0;
  uint64_t linger_interval_ms = 0;  // lingerers: one byte per interval
  uint64_t reconnect_delay_ms = 0;  // attack kinds: wait before connecting again
  uint64_t bytes_trickled = 0;      // body bytes (trickle) and head bytes (slow heads) sent
  uint64_t duration_s = 0;
  double setup_s = 0;  // start until every connection was set up or had failed (0: never)
  double run_s = 0;    // start until the end (duration, signal)
  uint64_t peak_open = 0;
  uint64_t rlimit_nofile = 0;  // the soft limit this process ran with
  double cpu_s = 0;            // this process, user + system
  bool interrupted = false;    // ended by SIGINT/SIGTERM before --duration

  uint64_t held_at_end() const {
    return idle.held_at_end + silent.held_at_end + trickle.held_at_end + slow_head.held_at_end +
           busy.held_at_end + slow_reader.held_at_end + lingerer.held_at_end +
           silent_attack.held_at_end;
  }
};

// Runs the crowd for o.duration_s (or until SIGINT/SIGTERM). False only when it could not run
// at all (URL, file limit, epoll); what the server does to connections is never an error.
bool run_crowd(const Options& o, CrowdStats* stats, std::string* error);

}  // namespace ringest::crowd
