// RFC 9110 / 9112 rules about a parsed request head that llhttp 8.1 leaves to its user: the
// form of the request-target, Host, Transfer-Encoding, Expect, and singleton fields sent twice.
// Pure: a RequestHead in, a verdict out; no sockets, no files, so tables and fuzzers drive it.
#pragma once

#include <string_view>

#include "http/http_parser.h"

namespace ringest::http {

struct RequestVerdict {
  int status = 0;           // 0: acceptable; otherwise the status to answer with
  std::string_view reason;  // short text for the response body (a static string)
  bool close = false;       // framing cannot be trusted: close the connection after answering
  bool ok() const { return status == 0; }
};

// The path a request is routed on, without the query:
//   origin-form    "/files/x?q"             -> "/files/x"
//   absolute-form  "http://host:1/files/x"  -> "/files/x" (RFC 9112 3.2.2: an origin server
//                                               MUST accept it; an empty path is "/")
//   asterisk-form  "*"                      -> "*"
// Empty for anything else (another scheme, userinfo in the authority, no authority).
std::string_view request_path(std::string_view target);

// Checks, in this order (the first failure wins):
//   HTTP major version other than 1                                  -> 505, close
//   CONNECT (ringestd is no proxy)                                   -> 501, close
//   a target request_path() cannot route, a fragment ('#'), or "*"
//     with a method other than OPTIONS                               -> 400
//   HTTP/1.1 without Host, Host twice, or a Host value that is not
//     uri-host [":" port] characters (RFC 9112 3.2: MUST 400)        -> 400
//   Transfer-Encoding in an HTTP/1.0 request (RFC 9112 6.1), or whose
//     final coding is not chunked (RFC 9112 6.3: MUST 400 and close),
//     or with chunked twice                                          -> 400, close
//   Transfer-Encoding with a coding other than chunked before it
//     (RFC 9112 6.1: SHOULD 501)                                     -> 501, close
//   Expect with a member other than 100-continue (RFC 9110 10.1.1)   -> 417
//   a tus header or Content-Type sent more than once (singletons,
//     RFC 9110 5.3), on any method but OPTIONS                       -> 400
RequestVerdict check_request(const RequestHead& head);

}  // namespace ringest::http
