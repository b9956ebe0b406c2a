#pragma once
// Private: the /metrics endpoint, over plain HTTP or HTTPS (`metrics.tls_cert_file`), served by Boost.Beast on
// one thread of its own. Debian 12's civetweb (under prometheus-cpp's exposer) crashed on its first HTTPS
// request with OpenSSL 3, and with its 2 worker threads two idle connections blocked every scrape for 30 s; an
// asynchronous server has no worker to block. Clients that connect and send nothing cannot starve a scrape:
// each request must arrive within kRequestTimeout, and when the connection table is full the connection that
// has waited longest for a request is closed to make room for the newcomer.
#include <flowguard/exporters/config.hpp>
#include <flowguard/exporters/metrics.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace flowguard::exporters {

inline constexpr int kMaxMetricsConnections = 64;
inline constexpr std::chrono::seconds kMetricsRequestTimeout{10};  // from connect (or the last answer) to a request

class MetricsHttpServer {
public:
    // Writes one scrape's text exposition.
    using Render = std::function<void(std::string& body)>;
    // Throws std::runtime_error naming the file or address that is unusable.
    MetricsHttpServer(const MetricsConfig& config, Render render);
    ~MetricsHttpServer();
    MetricsHttpServer(const MetricsHttpServer&) = delete;
    MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

    int port() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Basic auth (RFC 7617) as the server checks it: the scheme in any case, the credential compared in constant
// time whatever its length (digests of both are compared). Default-constructed: no auth.
class BasicAuth {
public:
    BasicAuth() = default;
    BasicAuth(std::string_view user, std::string_view password);
    bool enabled() const noexcept { return enabled_; }
    bool allows(std::string_view authorization_header) const;

private:
    bool enabled_ = false;
    unsigned char expected_digest_[32]{};
};

// What the server answers to one request given as raw bytes (after TLS): the HTTP status, or 0 when the bytes
// are not one complete request within the header limit. The fuzz target of the request parsing drives this.
int metrics_response_status(std::string_view bytes, const BasicAuth& auth, const MetricsHttpServer::Render& render);

}  // namespace flowguard::exporters
