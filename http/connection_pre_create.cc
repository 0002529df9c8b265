// The pre-create hook from the connection's side: the creation waits (the reactor does not)
// while a hook worker asks the hook; its answer arrives as a completion (engine/hooks/
// pre_create.h). The connection is not freed while a question is out (ops_pending()).
#include <arpa/inet.h>
#include <llhttp.h>
#include <sys/socket.h>

#include <cstring>

#include "engine/hooks/event_json.h"
#include "http/connection.h"

namespace ringest::http {

namespace {

// The peer's address as text ("" when it cannot be had). getpeername() does not block.
std::string peer_address(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return {};
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&addr)->sin_addr, text, sizeof text);
  } else if (addr.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&addr)->sin6_addr, text, sizeof text);
  }
  return text;
}

// What a hook's reason may put in an answer: printable ASCII, at most 200 bytes.
std::string printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 200)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

}  // namespace

void HttpConnection::ask_pre_create(const CreateSpec& spec) {
  // The spec's metadata lives in the handler's frame: keep a copy until the answer.
  pending_metadata_.assign(spec.metadata_block.begin(), spec.metadata_block.end());
  pending_spec_ = spec;
  pending_spec_.metadata_block = pending_metadata_;
  const RequestHead& head = this->head();
  hooks::PreCreateFacts facts;
  facts.protocol = spec.protocol;
  facts.length = spec.length;
  facts.metadata_block = pending_metadata_;
  facts.partial = spec.partial;
  facts.final = spec.parts != nullptr;
  facts.method = llhttp_method_name(static_cast<llhttp_method_t>(head.method));
  facts.uri = head.target;
  std::string remote = peer_address(fd_);
  facts.remote_addr = remote;
  for (uint32_t i = 0; i < head.header_count; ++i) {
    facts.headers.emplace_back(head.headers[i].name, head.headers[i].value);
  }
  pre_create_ticket_.json = hooks::pre_create_json(facts);
  pre_create_ticket_.ring_fd = reactor_->ring().fd();
  pre_create_ticket_.completion = &pre_create_;
  pre_create_pending_ = true;
  context_->pre_create->submit(&pre_create_ticket_);
}

void HttpConnection::on_pre_create_answer() {
  const hooks::HookReply& reply = pre_create_ticket_.reply;
  bool accept = reply.kind == hooks::HookReply::Kind::kAccepted ||
                (reply.kind == hooks::HookReply::Kind::kFailed &&
                 context_->pre_create->accept_on_failure());
  if (accept) {
    admit_and_create(pending_spec_);  // (what the store keeps of it is copied by now)
    pending_spec_ = CreateSpec{};
    return;
  }
  close_after_response_ = true;  // refused: a body that may follow is not read
  if (reply.kind == hooks::HookReply::Kind::kRefused) {
    handler_->on_create_refused(*this, reply.status,
                                reply.message.empty() ? "refused by the pre-create hook"
                                                      : printable(reply.message));
  } else {
    handler_->on_create_refused(*this, 503, "the pre-create hook did not answer; try again");
  }
  pending_spec_ = CreateSpec{};  // (drops a final's parts reference when it was refused)
}

}  // namespace ringest::http
