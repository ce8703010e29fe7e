// sluicegate from C++17: the C API behind small RAII wrappers and exceptions, on an in-process
// mock provider (no keys, no network). Build and run from the repository root:
//
//   cargo build -p sluicegate-c
//   c++ -std=c++17 -Iinclude examples/cpp/chat.cpp -Ltarget/debug -lsluicegate -o chat
//   LD_LIBRARY_PATH=target/debug ./chat
#include <cstdio>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "sluicegate.h"

namespace sg {

// A failed call: the status, the stable code ("not_found") and the full error JSON.
struct Error : std::runtime_error {
  sg_status status;
  std::string code, json;
  explicit Error(sg_error *err)
      : std::runtime_error(sg_error_message(err)), status(sg_error_code(err)), code(sg_error_code_str(err)),
        json(sg_error_json(err)) {
    sg_error_free(err);
  }
};

// Call as `sg_status st = sg_...(..., &err); check(st, err);`: in `check(sg_...(&err), err)`
// the compiler may read `err` before the call has set it.
inline void check(sg_status status, sg_error *err) {
  if (status != SG_OK) throw Error(err);
}

// Takes ownership of a string returned by sluicegate.
inline std::string take(char *s, size_t len) {
  std::string out(s, len);
  sg_string_free(s);
  return out;
}

class Stream {
 public:
  explicit Stream(sg_stream *s) : s_(s, &sg_stream_free) {}
  // The next chunk's JSON, or false at the end (an error throws).
  bool next(std::string &chunk) {
    char *text = nullptr;
    size_t len = 0;
    sg_error *err = nullptr;
    sg_status st = sg_stream_next(s_.get(), &text, &len, &err);
    if (st == SG_STREAM_END) return false;
    check(st, err);
    chunk = take(text, len);
    return true;
  }
  // The `gateway` metadata, once next() has returned false.
  std::string gateway() const {
    char *text = nullptr;
    size_t len = 0;
    sg_error *err = nullptr;
    sg_status st = sg_stream_gateway(s_.get(), &text, &len, &err);
    check(st, err);
    return take(text, len);
  }

 private:
  std::unique_ptr<sg_stream, decltype(&sg_stream_free)> s_;  // freeing an unfinished stream cancels it
};

class Gateway {
 public:
  explicit Gateway(std::string_view config) : gw_(nullptr, &sg_gateway_free) {
    sg_gateway *gw = nullptr;
    sg_error *err = nullptr;
    sg_status st = sg_gateway_new(config.data(), config.size(), &gw, &err);
    check(st, err);
    gw_.reset(gw);
  }
  std::string chat(std::string_view request, const char *options = nullptr) const {
    char *out = nullptr;
    size_t len = 0;
    sg_error *err = nullptr;
    sg_status st = sg_chat(gw_.get(), request.data(), request.size(), options, &out, &len, &err);
    check(st, err);
    return take(out, len);
  }
  Stream stream(std::string_view request, const char *options = nullptr) const {
    sg_stream *s = nullptr;
    sg_error *err = nullptr;
    sg_status st = sg_chat_stream(gw_.get(), request.data(), request.size(), options, &s, &err);
    check(st, err);
    return Stream(s);
  }

 private:
  std::unique_ptr<sg_gateway, decltype(&sg_gateway_free)> gw_;  // thread-safe: share it freely
};

}  // namespace sg

int main() {
  constexpr std::string_view config = R"(
providers:
  local: { type: mock, latency: 5ms }
deployments:
  mini: { provider: local, model: gpt-4o-mini }
routes:
  chat: { targets: [mini] }
)";
  try {
    std::cout << "sluicegate " << sg_version() << "\n";
    sg::Gateway gw(config);
    std::cout << "response: "
              << gw.chat(R"({"model": "chat", "messages": [{"role": "user", "content": "Hello from C++"}]})",
                         R"({"tags": {"team": "docs"}})")
              << "\n";

    auto stream = gw.stream(R"({"model": "chat", "stream": true, "messages": [{"role": "user", "content": "Stream"}]})");
    std::string chunk;
    int chunks = 0;
    while (stream.next(chunk)) std::cout << "  chunk " << ++chunks << ": " << chunk << "\n";
    std::cout << "stream ended after " << chunks << " chunks; gateway: " << stream.gateway() << "\n";

    try {
      gw.chat(R"({"model": "chta", "messages": [{"role": "user", "content": "hi"}]})");
    } catch (const sg::Error &e) {
      std::cout << "unknown route: " << e.code << ": " << e.what() << "\n";
      if (e.status != SG_NOT_FOUND) return 1;
    }
  } catch (const sg::Error &e) {
    std::cerr << "failed [" << e.code << "]: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
