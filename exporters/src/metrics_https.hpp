#pragma once
// Private: /metrics over HTTPS, for `metrics.tls_cert_file`. Debian 12's civetweb (under prometheus-cpp's
// exposer) crashes on its first HTTPS request with OpenSSL 3, so TLS scrapes are served here instead, by
// Boost.Beast on one thread of its own, with the same text exposition and basic auth.
#include <flowguard/exporters/config.hpp>
#include <flowguard/exporters/metrics.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace flowguard::exporters {

class HttpsMetricsServer {
public:
    // Writes one scrape's text exposition.
    using Render = std::function<void(std::string& body)>;
    // Throws std::runtime_error naming the file or address that is unusable.
    HttpsMetricsServer(const MetricsConfig& config, Render render);
    ~HttpsMetricsServer();
    HttpsMetricsServer(const HttpsMetricsServer&) = delete;
    HttpsMetricsServer& operator=(const HttpsMetricsServer&) = delete;

    int port() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// What the server answers to one request given as raw bytes (after TLS): the HTTP status, or 0 when the bytes
// are not one complete request within the header limit. The fuzz target of the request parsing drives this.
int https_metrics_response_status(std::string_view bytes, const std::string& expected_authorization,
                                  const HttpsMetricsServer::Render& render);

}  // namespace flowguard::exporters
