#include "http/response.h"

#include <charconv>
#include <cstring>

namespace ringest::http {

const char* reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 104: return "Upload Resumption Supported";  // IETF resumable uploads
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 460: return "Checksum Mismatch";  // tus checksum extension
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
  }
}

void ResponseBuilder::append(std::string_view text) {
  if (overflow_ || text.size() > cap_ - len_) {
    overflow_ = true;
    return;
  }
  std::memcpy(buf_ + len_, text.data(), text.size());
  len_ += text.size();
}

void ResponseBuilder::status(int code) {
  len_ = 0;
  overflow_ = false;
  char num[8];
  auto r = std::to_chars(num, num + sizeof num, code);
  append("HTTP/1.1 ");
  append(std::string_view(num, static_cast<size_t>(r.ptr - num)));
  append(" ");
  append(reason_phrase(code));
  append("\r\n");
}

void ResponseBuilder::header(std::string_view name, std::string_view value) {
  append(name);
  append(": ");
  append(value);
  append("\r\n");
}

void ResponseBuilder::header(std::string_view name, uint64_t value) {
  char num[24];
  auto r = std::to_chars(num, num + sizeof num, value);
  header(name, std::string_view(num, static_cast<size_t>(r.ptr - num)));
}

void ResponseBuilder::finish(std::string_view body) {
  header("Content-Length", static_cast<uint64_t>(body.size()));
  append("\r\n");
  append(body);
}

void ResponseBuilder::finish_head(uint64_t content_length) {
  header("Content-Length", content_length);
  append("\r\n");
}

void ResponseBuilder::finish_no_content() { append("\r\n"); }

}  // namespace ringest::http
