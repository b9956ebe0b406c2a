#pragma once
// Private: /metrics over HTTPS, for `metrics.tls_cert_file`. Debian 12's civetweb (under prometheus-cpp's
// exposer) crashes on its first HTTPS request with OpenSSL 3, so TLS scrapes are served here instead, by
// Boost.Beast on one thread of its own, with the same text exposition and basic auth.
#include <flowguard/exporters/config.hpp>
#include <flowguard/exporters/metrics.hpp>

#include <functional>
#include <memory>
#include <string>

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

}  // namespace flowguard::exporters
