#include "metrics_https.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace flowguard::exporters {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr int kMaxConnections = 64;  // scrapers are few; a flood of connections cannot grow memory
constexpr std::size_t kMaxRequestHeader = 8 * 1024;
constexpr std::chrono::seconds kHandshakeTimeout{10};
constexpr std::chrono::seconds kIdleTimeout{60};

// metrics.listen as the collector's listeners are written ("ADDR:PORT", "[V6]:PORT", ":PORT" for all).
tcp::endpoint parse_listen(const std::string& listen) {
    if (listen.find("://") != std::string::npos)  // the shared parser would talk of udp:// here
        throw std::runtime_error(fmt::format("metrics.listen '{}' is ADDR:PORT, without a scheme", listen));
    try {
        const auto parsed = ListenEndpoint::parse(listen);
        return {asio::ip::make_address(parsed.address), parsed.port};
    } catch (const ConfigError& e) {
        throw std::runtime_error(fmt::format("metrics.listen: {}", e.problem()));
    }
}

std::string base64(std::string_view text) {
    std::string out(4 * ((text.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

bool authorized(const http::request<http::empty_body>& request, const std::string& expected_authorization) {
    if (expected_authorization.empty()) return true;
    const auto given = request[http::field::authorization];
    return given.size() == expected_authorization.size() &&
           CRYPTO_memcmp(given.data(), expected_authorization.data(), given.size()) == 0;
}

http::response<http::string_body> respond(const http::request<http::empty_body>& request,
                                          const std::string& expected_authorization,
                                          const HttpsMetricsServer::Render& provider) {
    http::response<http::string_body> response;
    response.version(request.version());
    response.keep_alive(request.keep_alive());
    response.set(http::field::server, "flowguard");
    const auto target = request.target();
    const auto path = target.substr(0, target.find('?'));
    if (!authorized(request, expected_authorization)) {
        response.result(http::status::unauthorized);
        response.set(http::field::www_authenticate, "Basic realm=\"flowguard\"");
    } else if (path != "/metrics") {
        response.result(http::status::not_found);
    } else if (request.method() != http::verb::get) {
        response.result(http::status::method_not_allowed);
        response.set(http::field::allow, "GET");
    } else {
        response.result(http::status::ok);
        response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        provider(response.body());
    }
    response.prepare_payload();
    return response;
}

}  // namespace

int https_metrics_response_status(std::string_view bytes, const std::string& expected_authorization,
                                  const HttpsMetricsServer::Render& render) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(kMaxRequestHeader);
    parser.eager(true);
    beast::error_code ec;
    parser.put(asio::buffer(bytes.data(), bytes.size()), ec);
    if (ec || !parser.is_done()) return 0;
    return static_cast<int>(respond(parser.get(), expected_authorization, render).result_int());
}

struct HttpsMetricsServer::Impl {
    Impl(const MetricsConfig& config, HttpsMetricsServer::Render p)
        : provider(std::move(p)), tls(asio::ssl::context::tls_server), acceptor(io) {
        if (!config.username.empty())
            expected_authorization = "Basic " + base64(config.username + ":" + config.password);
        tls.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
        try {
            tls.use_certificate_chain_file(config.tls_cert_file);
        } catch (const boost::system::system_error& e) {
            throw std::runtime_error(fmt::format("metrics.tls_cert_file {}: {}", config.tls_cert_file, e.what()));
        }
        try {
            tls.use_private_key_file(config.tls_key_file, asio::ssl::context::pem);
        } catch (const boost::system::system_error& e) {
            throw std::runtime_error(fmt::format("metrics.tls_key_file {}: {}", config.tls_key_file, e.what()));
        }
        const auto endpoint = parse_listen(config.listen);
        boost::system::error_code ec;
        acceptor.open(endpoint.protocol(), ec);
        if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec) acceptor.bind(endpoint, ec);
        if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) throw std::runtime_error(fmt::format("metrics endpoint {}: {}", config.listen, ec.message()));
        asio::co_spawn(io, accept_loop(), asio::detached);
        thread = std::thread([this] { io.run(); });
    }

    ~Impl() {
        io.stop();
        if (thread.joinable()) thread.join();
    }

    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec == asio::error::operation_aborted) co_return;
            if (ec) continue;                              // e.g. out of descriptors: the next accept may succeed
            if (connections >= kMaxConnections) continue;  // the socket closes as it goes out of scope
            ++connections;
            asio::co_spawn(io, serve(std::move(socket)), [this](std::exception_ptr) { --connections; });
        }
    }

    // One connection: TLS handshake, then requests until the client closes or idles out. Any error
    // (handshake, malformed request, timeout) only ends this connection.
    asio::awaitable<void> serve(tcp::socket socket) {
        beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), tls);
        beast::get_lowest_layer(stream).expires_after(kHandshakeTimeout);
        co_await stream.async_handshake(asio::ssl::stream_base::server, asio::use_awaitable);
        beast::flat_buffer buffer;
        for (;;) {
            http::request_parser<http::empty_body> parser;
            parser.header_limit(kMaxRequestHeader);
            beast::get_lowest_layer(stream).expires_after(kIdleTimeout);
            co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
            auto response = respond(parser.get(), expected_authorization, provider);
            co_await http::async_write(stream, response, asio::use_awaitable);
            if (!response.keep_alive()) break;
        }
        beast::get_lowest_layer(stream).expires_after(kHandshakeTimeout);
        co_await stream.async_shutdown(asio::as_tuple(asio::use_awaitable));
    }

    HttpsMetricsServer::Render provider;
    std::string expected_authorization;  // empty: no basic auth
    asio::io_context io;
    asio::ssl::context tls;
    tcp::acceptor acceptor;
    int connections = 0;  // touched on the io thread only
    std::thread thread;
};

HttpsMetricsServer::HttpsMetricsServer(const MetricsConfig& config, Render provider)
    : impl_(std::make_unique<Impl>(config, std::move(provider))) {}

HttpsMetricsServer::~HttpsMetricsServer() = default;

int HttpsMetricsServer::port() const {
    return impl_->acceptor.local_endpoint().port();
}

}  // namespace flowguard::exporters
