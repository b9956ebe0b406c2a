// One POST over HTTP or HTTPS (Boost.Beast, OpenSSL), bounded as a whole by its timeout: a webhook delivery
// or a ClickHouse request.
#include <flowguard/exporters/webhook.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>
#include <openssl/ssl.h>

#include <chrono>

#ifndef FLOWGUARD_VERSION
#define FLOWGUARD_VERSION "dev"
#endif

namespace flowguard::exporters {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::size_t kMaxResponseBytes = 64 * 1024;  // a hostile receiver cannot make us buffer more

// The body is sent from the caller's memory (span_body), never copied.
using Request = http::request<http::span_body<const char>>;

Request make_request(const WebhookUrl& url, const WebhookPayload& payload,
                     const std::vector<std::pair<std::string, std::string>>& headers) {
    Request request{http::verb::post, payload.path, 11};
    request.set(http::field::host, url.host);
    request.set(http::field::user_agent, "flowguard/" FLOWGUARD_VERSION);
    for (const auto& [name, value] : headers) request.set(name, value);
    request.body() = {payload.body.data(), payload.body.size()};
    request.prepare_payload();
    return request;
}

// Sends the request on a connected stream and reads the answer.
template <class Stream>
asio::awaitable<DeliveryResult> exchange(Stream& stream, Request& request) {
    co_await http::async_write(stream, request, asio::use_awaitable);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxResponseBytes);
    co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
    const auto& response = parser.get();
    DeliveryResult result;
    result.status = static_cast<int>(response.result_int());
    if (!result.delivered()) {
        const int s = result.status;
        result.reason = (s >= 500 || s == 408 || s == 429) ? "http_status" : "rejected";
        result.detail = fmt::format("HTTP {}: {}", s, response.body().substr(0, 200));
    }
    result.body = response.body();
    co_return result;
}

asio::awaitable<DeliveryResult> post(const HttpClientOptions& options, const WebhookUrl& url,
                                     const WebhookPayload& payload,
                                     const std::vector<std::pair<std::string, std::string>>& headers) {
    auto executor = co_await asio::this_coro::executor;
    auto request = make_request(url, payload, headers);
    tcp::resolver resolver(executor);
    DeliveryResult failed;
    failed.reason = "connect";
    tcp::resolver::results_type endpoints;
    try {
        endpoints = co_await resolver.async_resolve(url.host, url.port, asio::use_awaitable);
    } catch (const boost::system::system_error& e) {
        failed.detail = fmt::format("resolve {}: {}", url.host, e.code().message());
        co_return failed;
    }
    if (!url.tls) {
        beast::tcp_stream stream(executor);
        try {
            co_await stream.async_connect(endpoints, asio::use_awaitable);
        } catch (const boost::system::system_error& e) {
            failed.detail = fmt::format("connect {}:{}: {}", url.host, url.port, e.code().message());
            co_return failed;
        }
        co_return co_await exchange(stream, request);
    }
    asio::ssl::context context(asio::ssl::context::tls_client);
    if (options.tls_verify) {
        context.set_verify_mode(asio::ssl::verify_peer);
        if (options.ca_file.empty())
            context.set_default_verify_paths();
        else
            context.load_verify_file(options.ca_file);
    } else {
        context.set_verify_mode(asio::ssl::verify_none);
    }
    beast::ssl_stream<beast::tcp_stream> stream(executor, context);
    SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str());  // SNI
    if (options.tls_verify) stream.set_verify_callback(asio::ssl::host_name_verification(url.host));
    try {
        co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
    } catch (const boost::system::system_error& e) {
        failed.detail = fmt::format("connect {}:{}: {}", url.host, url.port, e.code().message());
        co_return failed;
    }
    try {
        co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
    } catch (const boost::system::system_error& e) {
        failed.reason = "tls";
        failed.detail = fmt::format("TLS handshake with {}: {}", url.host, e.code().message());
        co_return failed;
    }
    co_return co_await exchange(stream, request);
}

}  // namespace

DeliveryResult http_post(const HttpClientOptions& options, const WebhookUrl& url, const WebhookPayload& payload,
                         const std::vector<std::pair<std::string, std::string>>& headers) {
    asio::io_context io;
    std::optional<DeliveryResult> outcome;
    asio::co_spawn(io, post(options, url, payload, headers), [&](std::exception_ptr error, DeliveryResult result) {
        if (!error) {
            outcome = std::move(result);
            return;
        }
        DeliveryResult failed;
        failed.reason = "connect";
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            failed.detail = e.what();  // the connection broke mid-exchange, or the answer was malformed
        }
        outcome = std::move(failed);
    });
    // One deadline for everything (resolve, connect, TLS, request, answer); what is left is cancelled
    // when the context goes.
    io.run_for(std::chrono::nanoseconds(options.timeout_ns));
    if (outcome) return *outcome;
    DeliveryResult timed_out;
    timed_out.reason = "timeout";
    timed_out.detail = fmt::format("no answer from {} within {} ms", url.host, options.timeout_ns / 1'000'000);
    return timed_out;
}

}  // namespace flowguard::exporters
