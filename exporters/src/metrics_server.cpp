#include "metrics_server.hpp"

#include <boost/algorithm/string/predicate.hpp>
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
#include <spdlog/spdlog.h>

#include <chrono>
#include <list>
#include <optional>
#include <stdexcept>
#include <thread>

namespace flowguard::exporters {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::size_t kMaxRequestHeader = 8 * 1024;
constexpr std::chrono::seconds kWriteTimeout{30};

tcp::endpoint parse_listen(const std::string& listen) {
    try {
        const auto parsed = parse_metrics_listen(listen);
        return {asio::ip::make_address(parsed.address), parsed.port};
    } catch (const ConfigError& e) {
        throw std::runtime_error(fmt::format("metrics.listen: {}", e.problem()));
    }
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.empty() || text.size() % 4 != 0 || text.size() > 4096) return std::nullopt;
    std::string out(text.size() / 4 * 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (n < 0) return std::nullopt;
    std::size_t padding = 0;  // EVP_DecodeBlock decodes the '=' padding as zero bytes
    while (padding < 2 && text[text.size() - 1 - padding] == '=') ++padding;
    out.resize(static_cast<std::size_t>(n) - padding);
    return out;
}

void sha256(std::string_view data, unsigned char (&digest)[32]) {
    unsigned int length = 0;
    EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

http::response<http::string_body> respond(const http::request<http::empty_body>& request, const BasicAuth& auth,
                                          const MetricsHttpServer::Render& provider) {
    http::response<http::string_body> response;
    response.version(request.version());
    response.keep_alive(request.keep_alive());
    response.set(http::field::server, "flowguard");
    const auto target = request.target();
    const auto path = target.substr(0, target.find('?'));
    if (auth.enabled() && !auth.allows(request[http::field::authorization])) {
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
        try {
            provider(response.body());
        } catch (const std::exception& e) {
            // A metric written that the catalogue does not declare (a programming error the catalogue tests
            // catch): Prometheus gets a 500 with the reason, and the log says it, rather than a closed socket.
            spdlog::error("metrics: exposition failed: {}", e.what());
            response.result(http::status::internal_server_error);
            response.set(http::field::content_type, "text/plain; charset=utf-8");
            response.body() = std::string("exposition failed: ") + e.what() + "\n";
        }
    }
    response.prepare_payload();
    return response;
}

}  // namespace

BasicAuth::BasicAuth(std::string_view user, std::string_view password) : enabled_(true) {
    sha256(std::string(user) + ":" + std::string(password), expected_digest_);
}

bool BasicAuth::allows(std::string_view header) const {
    header = trim(header);
    // RFC 7617: the scheme is case-insensitive; then one or more spaces and the token68.
    if (header.size() < 7 || !boost::algorithm::iequals(header.substr(0, 5), "basic") ||
        (header[5] != ' ' && header[5] != '\t'))
        return false;
    const auto credential = base64_decode(trim(header.substr(6)));
    if (!credential) return false;
    unsigned char given[32];
    sha256(*credential, given);  // digests: the comparison takes the same time whatever the lengths
    return CRYPTO_memcmp(given, expected_digest_, sizeof given) == 0;
}

int metrics_response_status(std::string_view bytes, const BasicAuth& auth, const MetricsHttpServer::Render& render) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(kMaxRequestHeader);
    parser.eager(true);
    beast::error_code ec;
    parser.put(asio::buffer(bytes.data(), bytes.size()), ec);
    if (ec || !parser.is_done()) return 0;
    return static_cast<int>(respond(parser.get(), auth, render).result_int());
}

struct MetricsHttpServer::Impl {
    // A connection as the accept loop sees it, to pick one to close when the table is full.
    struct Slot {
        beast::tcp_stream* lowest = nullptr;  // set once the connection's stream exists
        bool waiting = true;                  // for a handshake or a request (else answering one)
        std::chrono::steady_clock::time_point since = std::chrono::steady_clock::now();
    };
    using Slots = std::list<Slot>;

    Impl(const MetricsConfig& config, MetricsHttpServer::Render p) : provider(std::move(p)), acceptor(io) {
        if (!config.username.empty()) auth = BasicAuth(config.username, config.password);
        if (!config.tls_cert_file.empty()) load_tls(config);
        const auto endpoint = parse_listen(config.listen);
        boost::system::error_code ec;
        acceptor.open(endpoint.protocol(), ec);
        if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec) acceptor.bind(endpoint, ec);
        if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
        if (ec)
            throw std::runtime_error(
                fmt::format("metrics endpoint {}: cannot listen: {}", config.listen, ec.message()));
        asio::co_spawn(io, accept_loop(), asio::detached);
        thread = std::thread([this] { io.run(); });
    }

    ~Impl() {
        io.stop();
        if (thread.joinable()) thread.join();
    }

    void load_tls(const MetricsConfig& config) {
        tls.emplace(asio::ssl::context::tls_server);
        tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                         asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
        try {
            tls->use_certificate_chain_file(config.tls_cert_file);
        } catch (const boost::system::system_error& e) {
            throw std::runtime_error(fmt::format("metrics.tls_cert_file {}: {}", config.tls_cert_file, e.what()));
        }
        try {
            tls->use_private_key_file(config.tls_key_file, asio::ssl::context::pem);
        } catch (const boost::system::system_error& e) {
            throw std::runtime_error(fmt::format("metrics.tls_key_file {}: {}", config.tls_key_file, e.what()));
        }
    }

    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec == asio::error::operation_aborted) co_return;
            if (ec) continue;  // e.g. out of descriptors: the next accept may succeed
            if (slots.size() >= static_cast<std::size_t>(kMaxMetricsConnections) && !close_longest_waiting())
                continue;  // the socket closes as it goes out of scope
            const auto slot = slots.emplace(slots.end());
            auto done = [this, slot](std::exception_ptr) { slots.erase(slot); };
            if (tls)
                asio::co_spawn(io, serve_tls(std::move(socket), *slot), std::move(done));
            else
                asio::co_spawn(io, serve_plain(std::move(socket), *slot), std::move(done));
        }
    }

    // Makes room for a newcomer: the connection waiting longest for a request, else the one answering longest
    // (a client that does not read). Its coroutine ends with operation_aborted and frees the slot.
    bool close_longest_waiting() {
        Slot* victim = nullptr;
        for (auto& s : slots) {
            if (s.lowest == nullptr) continue;
            if (victim == nullptr || (s.waiting && !victim->waiting) ||
                (s.waiting == victim->waiting && s.since < victim->since))
                victim = &s;
        }
        if (victim == nullptr) return false;
        victim->lowest->close();
        victim->lowest = nullptr;
        return true;
    }

    static void phase(Slot& slot, bool waiting) {
        slot.waiting = waiting;
        slot.since = std::chrono::steady_clock::now();
    }

    // Requests until the client closes, idles past the request timeout or is closed to make room. Any error
    // (malformed request, timeout) only ends this connection.
    template <class Stream>
    asio::awaitable<void> serve_requests(Stream& stream, Slot& slot) {
        beast::flat_buffer buffer;
        for (;;) {
            http::request_parser<http::empty_body> parser;
            parser.header_limit(kMaxRequestHeader);
            phase(slot, true);
            beast::get_lowest_layer(stream).expires_after(kMetricsRequestTimeout);
            co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
            phase(slot, false);
            auto response = respond(parser.get(), auth, provider);
            beast::get_lowest_layer(stream).expires_after(kWriteTimeout);
            co_await http::async_write(stream, response, asio::use_awaitable);
            if (!response.keep_alive()) break;
        }
    }

    asio::awaitable<void> serve_plain(tcp::socket socket, Slot& slot) {
        beast::tcp_stream stream(std::move(socket));
        slot.lowest = &stream;
        co_await serve_requests(stream, slot);
        beast::error_code ec;
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    }

    asio::awaitable<void> serve_tls(tcp::socket socket, Slot& slot) {
        beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *tls);
        slot.lowest = &beast::get_lowest_layer(stream);
        beast::get_lowest_layer(stream).expires_after(kMetricsRequestTimeout);
        co_await stream.async_handshake(asio::ssl::stream_base::server, asio::use_awaitable);
        co_await serve_requests(stream, slot);
        beast::get_lowest_layer(stream).expires_after(kMetricsRequestTimeout);
        co_await stream.async_shutdown(asio::as_tuple(asio::use_awaitable));
    }

    MetricsHttpServer::Render provider;
    BasicAuth auth;
    asio::io_context io;
    std::optional<asio::ssl::context> tls;
    tcp::acceptor acceptor;
    Slots slots;  // touched on the io thread only
    std::thread thread;
};

MetricsHttpServer::MetricsHttpServer(const MetricsConfig& config, Render provider)
    : impl_(std::make_unique<Impl>(config, std::move(provider))) {}

MetricsHttpServer::~MetricsHttpServer() = default;

int MetricsHttpServer::port() const {
    return impl_->acceptor.local_endpoint().port();
}

}  // namespace flowguard::exporters
