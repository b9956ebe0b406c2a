#include "json_fields.hpp"
#include "text_append.hpp"

#include <flowguard/core/time_format.hpp>
#include <flowguard/core/utf8.hpp>
#include <flowguard/exporters/dns_format.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

namespace flowguard::exporters {
namespace {

// Names from the wire may hold any byte: JSON-escape them, and write invalid UTF-8 as \xHH.
void append_json_string(fmt::memory_buffer& out, std::string_view text) {
    const auto quoted = boost::json::serialize(is_valid_utf8(text) ? boost::json::string(text)
                                                                   : boost::json::string(to_valid_utf8(text)));
    out.append(quoted.data(), quoted.data() + quoted.size());
}

}  // namespace

std::string_view dns_type_name(std::uint16_t qtype) noexcept {
    switch (qtype) {
        case 1:
            return "A";
        case 2:
            return "NS";
        case 5:
            return "CNAME";
        case 6:
            return "SOA";
        case 12:
            return "PTR";
        case 15:
            return "MX";
        case 16:
            return "TXT";
        case 28:
            return "AAAA";
        case 33:
            return "SRV";
        case 64:
            return "SVCB";
        case 65:
            return "HTTPS";
        case 255:
            return "ANY";
        default:
            return "";
    }
}

void append_dns_json(fmt::memory_buffer& out, const DnsEvent& e) {
    auto it = std::back_inserter(out);
    fmt::format_to(it, "{{\"time\":\"{}\",\"time_ns\":{},\"type\":\"{}\",\"client\":", format_iso8601_ns(e.time_ns),
                   e.time_ns, e.response ? "response" : "query");
    append_quoted_address(out, e.client);
    fmt::format_to(it, ",\"client_port\":{},\"server\":", e.client_port);
    append_quoted_address(out, e.server);
    fmt::format_to(it, ",\"id\":{},\"qname\":", e.id);
    append_json_string(out, e.qname.view());
    fmt::format_to(it, ",\"qtype\":{},\"qtype_name\":\"{}\"", e.qtype, dns_type_name(e.qtype));
    if (e.response) {
        fmt::format_to(it, ",\"rcode\":{},\"cnames\":[", e.rcode);
        for (std::size_t i = 0; i < e.cname_count; ++i) {
            if (i) out.push_back(',');
            append_json_string(out, e.cnames[i].view());
        }
        out.append(std::string_view("],\"answers\":["));
        for (std::size_t i = 0; i < e.address_count; ++i) {
            if (i) out.push_back(',');
            append_quoted_address(out, e.addresses[i]);
        }
        fmt::format_to(it, "],\"ttl\":{},\"answers_truncated\":{}", e.min_ttl, e.truncated_answers);
    }
    out.append(std::string_view("}\n"));
}

bool is_dns_json(const boost::json::object& line) noexcept {
    return line.contains("qname");
}

bool read_dns_json(const boost::json::object& o, DnsEvent& event, std::string& error) {
    using namespace json_fields;
    std::string_view type, qname;
    if (!read_text(o, "type", type, error) || !read_text(o, "qname", qname, error)) return false;
    event.response = type == "response";
    event.qname.assign(qname.substr(0, kDnsNameMax));
    bool truncated = false;
    if (const auto* v = o.if_contains("answers_truncated"); v && v->is_bool()) truncated = v->as_bool();
    event.truncated_answers = truncated;
    if (!read_number(o, "time_ns", event.time_ns, error) || !read_address(o, "client", event.client, error) ||
        !read_address(o, "server", event.server, error) || !read_number(o, "client_port", event.client_port, error) ||
        !read_number(o, "id", event.id, error) || !read_number(o, "qtype", event.qtype, error) ||
        !read_number(o, "rcode", event.rcode, error) || !read_number(o, "ttl", event.min_ttl, error))
        return false;
    if (const auto* answers = o.if_contains("answers"); answers && answers->is_array()) {
        for (const auto& a : answers->as_array()) {
            if (event.address_count >= event.addresses.size()) {
                event.truncated_answers = true;
                break;
            }
            const auto address = a.is_string() ? IpAddress::parse(std::string_view(a.as_string())) : std::nullopt;
            if (!address) {
                error = "answers: an entry is not an IP address";
                return false;
            }
            event.addresses[event.address_count++] = *address;
        }
    }
    if (const auto* cnames = o.if_contains("cnames"); cnames && cnames->is_array()) {
        for (const auto& c : cnames->as_array()) {
            if (event.cname_count >= event.cnames.size()) break;
            if (!c.is_string()) {
                error = "cnames: an entry is not a name";
                return false;
            }
            event.cnames[event.cname_count++].assign(std::string_view(c.as_string()).substr(0, kDnsNameMax));
        }
    }
    return true;
}

}  // namespace flowguard::exporters
