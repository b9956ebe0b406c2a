// nfdump's filter language (nfdump 1.7's grammar.y: the same keywords, direction qualifiers, comparisons,
// number suffixes and precedence: not > and > or), parsed by recursive descent into FlowFilter's node tree.
#include <flowguard/exporters/flow_filter.hpp>
#include <flowguard/exporters/flow_format.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <charconv>
#include <cstring>
#include <limits>
#include <optional>

namespace flowguard::exporters {

// Named, not anonymous: FilterParser (a friend of FlowFilter, so not in an anonymous namespace) holds tokens.
namespace filter_syntax {

struct Token {
    enum class Type : std::uint8_t { word, open, close, open_list, close_list, comma, slash, compare, end };
    Type type = Type::end;
    std::string text;  // a word as written (keywords are matched lower-cased)
    std::string lower;
    std::size_t position = 0;
};

bool word_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':' || c == '.' || c == '-';
}

std::vector<Token> tokenize(std::string_view text) {
    std::vector<Token> tokens;
    std::size_t i = 0;
    auto push = [&](Token::Type type, std::size_t at, std::string word) {
        Token t{type, word, word, at};
        std::transform(t.lower.begin(), t.lower.end(), t.lower.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        tokens.push_back(std::move(t));
    };
    while (i < text.size()) {
        const char c = text[i];
        const std::size_t at = i;
        if (std::isspace(static_cast<unsigned char>(c))) {
            ++i;
        } else if (c == '#') {
            break;  // a comment to the end (nfdump's filter files have them)
        } else if (c == '"' || c == '\'') {
            const auto close = text.find(c, i + 1);
            if (close == std::string_view::npos) throw FilterError("unterminated quote", at);
            push(Token::Type::word, at, std::string(text.substr(i + 1, close - i - 1)));
            i = close + 1;
        } else if (word_char(c)) {
            while (i < text.size() && word_char(text[i])) ++i;
            push(Token::Type::word, at, std::string(text.substr(at, i - at)));
        } else if (c == '(' || c == ')' || c == '[' || c == ']' || c == ',' || c == '/') {
            const auto type = c == '('   ? Token::Type::open
                              : c == ')' ? Token::Type::close
                              : c == '[' ? Token::Type::open_list
                              : c == ']' ? Token::Type::close_list
                              : c == ',' ? Token::Type::comma
                                         : Token::Type::slash;
            push(type, at, std::string(1, c));
            ++i;
        } else if (text.substr(i, 2) == "&&" || text.substr(i, 2) == "||") {
            push(Token::Type::word, at, c == '&' ? "and" : "or");
            i += 2;
        } else if (c == '!' && text.substr(i, 2) != "!=") {
            push(Token::Type::word, at, "not");
            ++i;
        } else if (c == '=' || c == '<' || c == '>') {
            std::size_t n = (i + 1 < text.size() && text[i + 1] == '=') ? 2 : 1;
            push(Token::Type::compare, at, std::string(text.substr(i, n)));
            i += n;
        } else {
            throw FilterError(fmt::format("unexpected character '{}'", c), at);
        }
    }
    tokens.push_back(Token{Token::Type::end, "", "", text.size()});
    return tokens;
}

// nfdump's numbers: decimal, 0x hex, or decimal with k/m/g/t (powers of 1,000).
std::optional<std::uint64_t> parse_number(std::string_view s) {
    std::uint64_t value = 0;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        const auto [end, ec] = std::from_chars(s.data() + 2, s.data() + s.size(), value, 16);
        if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
        return value;
    }
    std::uint64_t scale = 1;
    if (!s.empty()) {
        switch (std::tolower(static_cast<unsigned char>(s.back()))) {
            case 'k':
                scale = 1'000;
                break;
            case 'm':
                scale = 1'000'000;
                break;
            case 'g':
                scale = 1'000'000'000;
                break;
            case 't':
                scale = 1'000'000'000'000;
                break;
            default:
                break;
        }
        if (scale != 1) s.remove_suffix(1);
    }
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    if (value > std::numeric_limits<std::uint64_t>::max() / scale) return std::nullopt;
    return value * scale;
}

// nfdump lets a v4 network drop its trailing zero bytes: "172.16/16".
std::optional<IpAddress> parse_network_address(std::string_view text) {
    if (auto a = IpAddress::parse(text)) return a;
    if (text.find(':') != std::string_view::npos || text.empty()) return std::nullopt;
    std::string padded(text);
    for (auto dots = std::count(text.begin(), text.end(), '.'); dots < 3; ++dots) padded += ".0";
    return IpAddress::parse(padded);
}

enum class Direction : std::uint8_t { none, src, dst, src_or_dst, src_and_dst, in, out };

}  // namespace filter_syntax

using namespace filter_syntax;

// The parser: a cursor over the tokens, building into the filter's arrays.
class FilterParser {
public:
    FilterParser(std::string_view text, const NameAddresses& names, FlowFilter& out)
        : tokens_(tokenize(text)), names_(names), f_(out) {}

    std::uint32_t parse() {
        if (peek().type == Token::Type::end) return node({});
        const auto root = parse_or();
        if (peek().type != Token::Type::end) fail("expected 'and', 'or' or the end of the filter");
        return root;
    }

private:
    using Node = FlowFilter::Node;
    using Field = FlowFilter::Field;
    using AddressField = FlowFilter::AddressField;
    using Compare = FlowFilter::Compare;

    const Token& peek(std::size_t ahead = 0) const { return tokens_[std::min(at_ + ahead, tokens_.size() - 1)]; }
    const Token& take() {
        const Token& t = peek();
        if (at_ < tokens_.size() - 1) ++at_;
        return t;
    }
    bool is_word(std::string_view w, std::size_t ahead = 0) const {
        return peek(ahead).type == Token::Type::word && peek(ahead).lower == w;
    }
    bool accept(std::string_view w) {
        if (!is_word(w)) return false;
        take();
        return true;
    }
    [[noreturn]] void fail(const std::string& what) const {
        const Token& t = peek();
        throw FilterError(
            t.type == Token::Type::end ? what + " at the end of the filter" : fmt::format("{} at '{}'", what, t.text),
            t.position);
    }
    void expect(Token::Type type, std::string_view what) {
        if (peek().type != type) fail(fmt::format("expected '{}'", what));
        take();
    }

    std::uint32_t node(Node n) {
        f_.nodes_.push_back(n);
        return static_cast<std::uint32_t>(f_.nodes_.size() - 1);
    }
    std::uint32_t combine(Node::Kind kind, const std::vector<std::uint32_t>& children) {
        if (children.size() == 1) return children[0];
        Node n;
        n.kind = kind;
        n.first = static_cast<std::uint32_t>(f_.children_.size());
        n.count = static_cast<std::uint32_t>(children.size());
        f_.children_.insert(f_.children_.end(), children.begin(), children.end());
        return node(n);
    }

    std::uint32_t parse_or() {
        std::vector<std::uint32_t> terms{parse_and()};
        while (accept("or")) terms.push_back(parse_and());
        return combine(Node::Kind::any_of, terms);
    }
    std::uint32_t parse_and() {
        std::vector<std::uint32_t> terms{parse_unary()};
        while (accept("and")) terms.push_back(parse_unary());
        return combine(Node::Kind::all_of, terms);
    }
    // Parsing and compiling recurse once per level: a hostile filter of a million '(' must be an error, not a
    // stack overflow.
    static constexpr std::size_t kMaxDepth = 200;

    std::uint32_t parse_unary() {
        if (depth_ >= kMaxDepth) fail(fmt::format("nested more than {} levels deep", kMaxDepth));
        if (accept("not")) {
            ++depth_;
            const auto child = parse_unary();
            --depth_;
            return node({.kind = Node::Kind::negate, .first = child});
        }
        if (peek().type == Token::Type::open) {
            take();
            ++depth_;
            const auto inner = parse_or();
            --depth_;
            expect(Token::Type::close, ")");
            return inner;
        }
        return parse_term();
    }

    Direction parse_direction() {
        for (auto [one, other] : {std::pair{"src", "dst"}, std::pair{"dst", "src"}}) {
            if (!is_word(one)) continue;
            take();
            if (is_word("or") && is_word(other, 1)) {
                at_ += 2;
                return Direction::src_or_dst;
            }
            if (is_word("and") && is_word(other, 1)) {
                at_ += 2;
                return Direction::src_and_dst;
            }
            return std::string_view(one) == "src" ? Direction::src : Direction::dst;
        }
        if (accept("in")) return Direction::in;
        if (accept("out")) return Direction::out;
        return Direction::none;
    }

    std::uint64_t number(std::uint64_t max, std::string_view what) {
        if (peek().type != Token::Type::word) fail(fmt::format("expected a number for {}", what));
        const auto value = parse_number(peek().text);
        if (!value) fail(fmt::format("expected a number for {}", what));
        if (*value > max) fail(fmt::format("{} must be at most {}", what, max));
        take();
        return *value;
    }
    Compare comparison() {
        if (peek().type == Token::Type::compare || is_word("eq") || is_word("gt") || is_word("lt") || is_word("ge") ||
            is_word("le")) {
            const std::string op = take().lower;
            if (op == "=" || op == "==" || op == "eq") return Compare::eq;
            if (op == "<" || op == "lt") return Compare::lt;
            if (op == ">" || op == "gt") return Compare::gt;
            if (op == "<=" || op == "le") return Compare::le;
            return Compare::ge;
        }
        return Compare::eq;
    }
    std::uint32_t compare(Field field, Compare op, std::uint64_t value) {
        return node({.kind = Node::Kind::compare, .field = field, .op = op, .value = value});
    }
    std::uint32_t compared(Field field, std::uint64_t max, std::string_view what) {
        const auto op = comparison();
        return compare(field, op, number(max, what));
    }
    // One test on a src/dst pair of fields, by the direction qualifier (none: either).
    template <typename Make>
    std::uint32_t by_direction(Direction d, Make make, std::string_view what) {
        switch (d) {
            case Direction::src:
                return make(true);
            case Direction::dst:
                return make(false);
            case Direction::none:
            case Direction::src_or_dst:
                return combine(Node::Kind::any_of, {make(true), make(false)});
            case Direction::src_and_dst:
                return combine(Node::Kind::all_of, {make(true), make(false)});
            default:
                fail(fmt::format("'in'/'out' do not apply to {}", what));
        }
    }
    // Before a term's value is read, so the error points at it.
    void src_or_dst_only(Direction d, std::string_view what) const {
        if (d == Direction::in || d == Direction::out) fail(fmt::format("'in'/'out' do not apply to {}", what));
    }
    void no_direction(Direction d, std::string_view what) const {
        if (d != Direction::none) fail(fmt::format("{} takes no src/dst/in/out", what));
    }

    std::uint32_t address_set(FlowFilter::AddressSet set) {
        f_.sets_.push_back(std::move(set));
        return static_cast<std::uint32_t>(f_.sets_.size() - 1);
    }
    std::uint32_t address_test(AddressField field, std::uint32_t set) {
        return node({.kind = Node::Kind::address, .address = field, .first = set});
    }
    IpAddress address(std::string_view what) {
        if (peek().type != Token::Type::word) fail(fmt::format("expected an address for {}", what));
        const auto a = IpAddress::parse(peek().text);
        if (!a) fail("not an IP address (host names are not looked up)");
        take();
        return *a;
    }
    // A network "A/N" or "A MASK" (nfdump's two forms), as a prefix.
    FlowFilter::Prefix network() {
        if (peek().type != Token::Type::word) fail("expected a network (A.B.C.D/N)");
        const auto a = parse_network_address(peek().text);
        if (!a) fail("not a network address");
        take();
        const unsigned offset = a->is_v4() ? 96 : 0;
        if (peek().type == Token::Type::slash) {
            take();
            const auto bits = number(a->is_v4() ? 32 : 128, "a prefix length");
            return FlowFilter::Prefix::of(*a, offset + static_cast<unsigned>(bits));
        }
        const auto mask = peek().type == Token::Type::word ? IpAddress::parse(peek().text) : std::nullopt;
        if (!mask || !mask->is_v4() || !a->is_v4()) fail("expected /N or a netmask after the network");
        const std::uint32_t m = mask->v4();
        if (m != 0 && (~m & (~m + 1)) != 0) fail("not a contiguous netmask");
        take();
        return FlowFilter::Prefix::of(*a, offset + static_cast<unsigned>(std::popcount(m)));
    }
    FlowFilter::AddressSet address_list() {
        expect(Token::Type::open_list, "[");
        FlowFilter::AddressSet set;
        while (peek().type != Token::Type::close_list) {
            if (peek().type == Token::Type::comma) {
                take();
                continue;
            }
            const bool has_slash = peek(1).type == Token::Type::slash;
            if (has_slash) {
                set.add(network());
            } else {
                set.add(address("a list"));
            }
        }
        take();
        return set;
    }
    // "[ 80 443 ]": the numbers sorted once, shared by the src and dst tests.
    std::pair<std::uint32_t, std::uint32_t> number_list(std::uint64_t max, std::string_view what) {
        expect(Token::Type::open_list, "[");
        std::vector<std::uint64_t> values;
        while (peek().type != Token::Type::close_list) {
            if (peek().type == Token::Type::comma) {
                take();
                continue;
            }
            values.push_back(number(max, what));
        }
        take();
        std::sort(values.begin(), values.end());
        values.erase(std::unique(values.begin(), values.end()), values.end());
        const auto first = static_cast<std::uint32_t>(f_.numbers_.size());
        f_.numbers_.insert(f_.numbers_.end(), values.begin(), values.end());
        return {first, static_cast<std::uint32_t>(values.size())};
    }
    std::uint32_t in_list(Field field, std::pair<std::uint32_t, std::uint32_t> range) {
        return node({.kind = Node::Kind::in_set, .field = field, .first = range.first, .count = range.second});
    }

    std::uint32_t addresses_term(Direction d) {
        src_or_dst_only(d, "ip");
        FlowFilter::AddressSet set;
        if (accept("in")) {
            set = address_list();
        } else {
            set.add(address("ip"));
        }
        const auto s = address_set(std::move(set));
        return by_direction(
            d, [&](bool src) { return address_test(src ? AddressField::src : AddressField::dst, s); }, "ip");
    }
    std::uint32_t net_term(Direction d) {
        src_or_dst_only(d, "net");
        FlowFilter::AddressSet set;
        set.add(network());
        const auto s = address_set(std::move(set));
        return by_direction(
            d, [&](bool src) { return address_test(src ? AddressField::src : AddressField::dst, s); }, "net");
    }
    std::uint32_t pair_term(Direction d, Field src_field, Field dst_field, std::uint64_t max, std::string_view what,
                            bool lists) {
        src_or_dst_only(d, what);
        if (lists && accept("in")) {
            const auto range = number_list(max, what);
            return by_direction(
                d, [&](bool src) { return in_list(src ? src_field : dst_field, range); }, what);
        }
        const auto op = comparison();
        const auto value = number(max, what);
        return by_direction(
            d, [&](bool src) { return compare(src ? src_field : dst_field, op, value); }, what);
    }
    std::uint32_t interface_term(Direction d) {
        const auto value = number(0xffffffffu, "an interface");
        if (d == Direction::in) return compare(Field::in_if, Compare::eq, value);
        if (d == Direction::out) return compare(Field::out_if, Compare::eq, value);
        if (d != Direction::none) fail("'if' takes 'in' or 'out'");
        return combine(Node::Kind::any_of,
                       {compare(Field::in_if, Compare::eq, value), compare(Field::out_if, Compare::eq, value)});
    }
    std::uint32_t volume_term(Direction d, Field field, std::string_view what) {
        if (d == Direction::out)
            fail(fmt::format("out {} are not stored (one-way flows: query the other direction)", what));
        if (d != Direction::none && d != Direction::in) fail(fmt::format("{} takes no src/dst", what));
        return compared(field, std::numeric_limits<std::uint64_t>::max(), what);
    }
    std::uint32_t flags_term() {
        std::uint64_t mask = 0;
        if (peek().type == Token::Type::word && parse_number(peek().text)) {
            mask = number(255, "flags");
        } else {
            if (peek().type != Token::Type::word) fail("expected TCP flags (FSRPAU or X)");
            for (char c : peek().text) {
                const auto at = std::string_view("FSRPAU").find(c);
                if (c == 'X') {
                    mask = 63;
                } else if (at == std::string_view::npos) {
                    fail("unknown TCP flag (FSRPAU or X)");
                } else {
                    mask |= 1u << at;
                }
            }
            take();
        }
        // nfdump: flags imply TCP, and every flag given must be set.
        return combine(Node::Kind::all_of,
                       {compare(Field::proto, Compare::eq, 6), compare(Field::tcp_flags_all, Compare::eq, mask)});
    }
    std::uint32_t proto_term() {
        if (peek().type != Token::Type::word) fail("expected a protocol name or number");
        std::string name = peek().text;
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        if (name == "ICMP6") name = "ICMPV6";
        if (name == "ICMPV6") name = "ICMPv6";
        if (name == "IPV6") name = "IPv6";
        const auto proto = protocol_number(name);
        if (!proto) fail("unknown protocol");
        take();
        return compare(Field::proto, Compare::eq, *proto);
    }
    std::uint32_t name_term() {
        if (peek().type != Token::Type::word) fail("expected a DNS name");
        const std::string name = peek().lower;
        if (!names_)
            fail(
                "'name' needs passive DNS: the archive has no DNS files (archive.events), and no --dns FILE was given");
        take();
        FlowFilter::AddressSet set;
        for (const auto& a : names_(name)) set.add(a);
        const auto s = address_set(std::move(set));
        return combine(Node::Kind::any_of, {address_test(AddressField::src, s), address_test(AddressField::dst, s)});
    }
    std::uint32_t single_address(AddressField field, std::string_view what) {
        accept("ip");
        FlowFilter::AddressSet set;
        if (accept("in")) {
            set = address_list();
        } else if (peek(1).type == Token::Type::slash) {
            set.add(network());
        } else {
            set.add(address(what));
        }
        return address_test(field, address_set(std::move(set)));
    }
    std::uint32_t direction_term() {
        if (accept("ingress")) return compare(Field::direction, Compare::eq, 0);
        if (accept("egress")) return compare(Field::direction, Compare::eq, 1);
        return compare(Field::direction, Compare::eq, number(1, "a flow direction"));
    }

    std::uint32_t parse_term() {
        const Direction d = parse_direction();
        if (peek().type != Token::Type::word) fail("expected a filter term");
        const std::string keyword = peek().lower;
        take();
        if (keyword == "ip" || keyword == "host") return addresses_term(d);
        if (keyword == "net") return net_term(d);
        if (keyword == "port") return pair_term(d, Field::src_port, Field::dst_port, 65535, "port", true);
        if (keyword == "as") return pair_term(d, Field::src_as, Field::dst_as, 0xffffffffu, "as", true);
        if (keyword == "vlan") return pair_term(d, Field::src_vlan, Field::dst_vlan, 4095, "vlan", false);
        if (keyword == "mask") return pair_term(d, Field::src_mask, Field::dst_mask, 128, "mask", false);
        if (keyword == "if") return interface_term(d);
        if (keyword == "packets") return volume_term(d, Field::packets, "packets");
        if (keyword == "bytes") return volume_term(d, Field::bytes, "bytes");
        if (keyword == "tos") {
            if (d == Direction::dst) fail("dst tos is not stored");
            if (d != Direction::none && d != Direction::src) fail("tos takes src only");
            return compared(Field::tos, 255, "tos");
        }
        static constexpr std::string_view kUndirected[] = {
            "any",     "ipv4",     "inet",      "ipv6",        "inet6",     "proto",   "flags",   "pps", "bps",
            "bpp",     "duration", "icmp-type", "icmp-code",   "nfversion", "fwdstat", "flowdir", "dir", "next",
            "bgpnext", "router",   "exporter",  "observation", "engine-id", "name",    "sysid"};
        if (std::find(std::begin(kUndirected), std::end(kUndirected), keyword) == std::end(kUndirected)) {
            at_ -= 1;
            fail("unknown filter term");
        }
        no_direction(d, keyword);
        if (keyword == "any") return node({});
        if (keyword == "ipv4" || keyword == "inet") return compare(Field::family, Compare::eq, 4);
        if (keyword == "ipv6" || keyword == "inet6") return compare(Field::family, Compare::eq, 6);
        if (keyword == "proto") return proto_term();
        if (keyword == "flags") return flags_term();
        if (keyword == "pps") return compared(Field::pps, std::numeric_limits<std::uint64_t>::max(), "pps");
        if (keyword == "bps") return compared(Field::bps, std::numeric_limits<std::uint64_t>::max(), "bps");
        if (keyword == "bpp") return compared(Field::bpp, std::numeric_limits<std::uint64_t>::max(), "bpp");
        if (keyword == "duration")
            return compared(Field::duration_ms, std::numeric_limits<std::uint64_t>::max(), "duration");
        if (keyword == "icmp-type") return compare(Field::icmp_type, Compare::eq, number(255, "icmp-type"));
        if (keyword == "icmp-code") return compare(Field::icmp_code, Compare::eq, number(255, "icmp-code"));
        if (keyword == "nfversion") return compared(Field::nfversion, 10, "nfversion");
        if (keyword == "fwdstat") return compare(Field::fwdstat, Compare::eq, number(255, "fwdstat"));
        if (keyword == "flowdir" || keyword == "dir") return direction_term();
        if (keyword == "next") {
            if (!is_word("ip")) fail("expected 'next ip'");
            return single_address(AddressField::next_hop, "next ip");
        }
        if (keyword == "bgpnext") return single_address(AddressField::bgp_next_hop, "bgpnext ip");
        if (keyword == "router" || keyword == "exporter") return single_address(AddressField::exporter, keyword);
        if (keyword == "observation" || keyword == "engine-id") {
            if (keyword == "observation" && !(accept("domain") && accept("id")))
                fail("expected 'observation domain id'");
            return compare(Field::domain, Compare::eq, number(0xffffffffu, "an observation domain"));
        }
        if (keyword == "name") return name_term();
        if (keyword == "sysid")
            fail(
                "sysid numbers are per file in nfdump; use 'exporter ADDRESS' (or 'exporter ADDRESS and observation "
                "domain id N')");
        at_ -= 1;
        fail("unknown filter term");  // listed above, not handled: a bug, but an error rather than a crash
    }

    std::vector<Token> tokens_;
    std::size_t at_ = 0;
    std::size_t depth_ = 0;
    const NameAddresses& names_;
    FlowFilter& f_;
};

namespace {

// The fields an nfdump record's generic flow and address elements hold (NfdumpFileReader::parse_core).
bool core_field(FlowFilter::Field f) {
    using F = FlowFilter::Field;
    switch (f) {
        case F::src_port:
        case F::dst_port:
        case F::proto:
        case F::bytes:
        case F::packets:
        case F::tos:
        case F::icmp_type:
        case F::icmp_code:
        case F::duration_ms:
        case F::pps:
        case F::bps:
        case F::bpp:
        case F::fwdstat:
        case F::family:
        case F::tcp_flags_all:
            return true;
        default:
            return false;
    }
}

}  // namespace

FlowFilter::FlowFilter() {
    nodes_.push_back({});
    program_.push_back({});  // a term of nodes_[0], "always"
}

FlowFilter FlowFilter::compile(std::string_view text, const NameAddresses& names) {
    FlowFilter f;
    f.nodes_.clear();
    FilterParser parser(text, names, f);
    f.root_ = parser.parse();
    f.flatten_root();
    for (const auto& n : f.nodes_) {
        const bool outside =
            (n.kind == Node::Kind::address && n.address != AddressField::src && n.address != AddressField::dst) ||
            ((n.kind == Node::Kind::compare || n.kind == Node::Kind::in_set) && !core_field(n.field));
        if (outside) f.core_only_ = false;
    }
    return f;
}

bool FlowFilter::matches_all() const noexcept {
    return nodes_[root_].kind == Node::Kind::always && from_ns_ == 0 && to_ns_ == UINT64_MAX;
}

namespace {

std::pair<std::uint64_t, std::uint64_t> halves(const IpAddress& a) noexcept {
    std::uint64_t hi;
    std::uint64_t lo;
    std::memcpy(&hi, a.bytes().data(), 8);
    std::memcpy(&lo, a.bytes().data() + 8, 8);
    return {hi, lo};
}

// The first `bits` bits of a 64-bit half as stored (network byte order in memory, so the mask is built in it).
std::uint64_t leading_mask(unsigned bits) noexcept {
    std::uint8_t bytes[8] = {};
    for (unsigned i = 0; i < 8; ++i) {
        const unsigned keep = bits >= (i + 1) * 8 ? 8 : bits > i * 8 ? bits - i * 8 : 0;
        bytes[i] = static_cast<std::uint8_t>(0xff00u >> keep);
    }
    std::uint64_t mask;
    std::memcpy(&mask, bytes, 8);
    return mask;
}

}  // namespace

FlowFilter::Prefix FlowFilter::Prefix::of(const IpAddress& a, unsigned bits128) noexcept {
    Prefix p;
    p.family = a.family();
    p.mask_hi = leading_mask(std::min(bits128, 64u));
    p.mask_lo = leading_mask(bits128 > 64 ? bits128 - 64 : 0);
    const auto [hi, lo] = halves(a);
    p.hi = hi & p.mask_hi;
    p.lo = lo & p.mask_lo;
    return p;
}

bool FlowFilter::Prefix::contains(const IpAddress& a) const noexcept {
    const auto [a_hi, a_lo] = halves(a);
    return ((a_hi & mask_hi) == hi) & ((a_lo & mask_lo) == lo) & (a.family() == family);
}

void FlowFilter::AddressSet::add(const IpAddress& a) {
    constexpr std::size_t kCompareAtMost = 8;  // beyond this, one hash lookup beats comparing each
    if (exact.empty() && prefixes.size() < kCompareAtMost) {
        prefixes.push_back(Prefix::of(a, 128));
        return;
    }
    exact.insert(a);
}

namespace {

std::uint64_t duration_ms_of(const FlowRecord& r) noexcept {
    return r.time_flow_end_ns > r.time_flow_start_ns ? (r.time_flow_end_ns - r.time_flow_start_ns) / 1'000'000 : 0;
}

}  // namespace

std::uint64_t FlowFilter::value_of(Field f, const FlowRecord& r) noexcept {
    switch (f) {
        case Field::src_port:
            return r.src_port;
        case Field::dst_port:
            return r.dst_port;
        case Field::proto:
            return r.proto;
        case Field::bytes:
            return r.bytes;
        case Field::packets:
            return r.packets;
        case Field::tos:
            return r.ip_tos;
        case Field::src_as:
            return r.src_as;
        case Field::dst_as:
            return r.dst_as;
        case Field::in_if:
            return r.in_if;
        case Field::out_if:
            return r.out_if;
        case Field::src_vlan:
            return r.src_vlan;
        case Field::dst_vlan:
            return r.dst_vlan;
        case Field::src_mask:
            return r.src_mask;
        case Field::dst_mask:
            return r.dst_mask;
        case Field::icmp_type:
            return r.is_icmp() ? r.icmp_type : 0;
        case Field::icmp_code:
            return r.is_icmp() ? r.icmp_code : 0;
        case Field::duration_ms:
            return duration_ms_of(r);
        case Field::pps: {
            const auto ms = duration_ms_of(r);
            return ms ? r.packets * 1000 / ms : 0;
        }
        case Field::bps: {
            const auto ms = duration_ms_of(r);
            return ms ? r.bytes * 8000 / ms : 0;
        }
        case Field::bpp:
            return r.packets ? r.bytes / r.packets : 0;
        case Field::nfversion:
            return r.type == FlowType::netflow_v5   ? 5
                   : r.type == FlowType::netflow_v9 ? 9
                   : r.type == FlowType::ipfix      ? 10
                                                    : 0;
        case Field::domain:
            return r.observation_domain_id;
        case Field::fwdstat:
            return r.forwarding_status;
        case Field::direction:
            return static_cast<std::uint64_t>(r.direction);
        case Field::family:
            return r.src_addr.is_v6() ? 6 : 4;
        case Field::tcp_flags_all:
            return r.tcp_flags;
    }
    return 0;
}

const IpAddress& FlowFilter::address_of(AddressField f, const FlowRecord& r) noexcept {
    switch (f) {
        case AddressField::src:
            return r.src_addr;
        case AddressField::dst:
            return r.dst_addr;
        case AddressField::next_hop:
            return r.next_hop;
        case AddressField::bgp_next_hop:
            return r.bgp_next_hop;
        case AddressField::exporter:
            return r.sampler_address;
    }
    return r.src_addr;
}

// The root group's terms combine into the starting result directly: most filters then run without touching
// the stack of enclosing results (whose stores could alias the record's loads and stall them).
void FlowFilter::flatten_root() {
    program_.clear();
    const Node& root = nodes_[root_];
    if (root.kind != Node::Kind::all_of && root.kind != Node::Kind::any_of) {
        starts_true_ = true;
        flatten(root_, true, false, 0);
        return;
    }
    starts_true_ = root.kind == Node::Kind::all_of;
    for (std::uint32_t i = 0; i < root.count; ++i) flatten(children_[root.first + i], starts_true_, false, 1);
}

void FlowFilter::flatten(std::uint32_t index, bool and_into, bool negate, std::size_t depth) {
    if (depth >= kProgramStack) throw FilterError("the filter is nested too deeply", 0);
    const Node& n = nodes_[index];
    switch (n.kind) {
        case Node::Kind::negate:
            flatten(n.first, and_into, !negate, depth);
            return;
        case Node::Kind::all_of:
        case Node::Kind::any_of:
            program_.push_back({.kind = Step::Kind::open, .starts_true = n.kind == Node::Kind::all_of, .term = {}});
            for (std::uint32_t i = 0; i < n.count; ++i)
                flatten(children_[n.first + i], n.kind == Node::Kind::all_of, false, depth + 1);
            program_.push_back({.kind = Step::Kind::close, .and_into = and_into, .negate = negate, .term = {}});
            return;
        default:
            program_.push_back({.kind = Step::Kind::term, .and_into = and_into, .negate = negate, .term = n});
            return;
    }
}

// The fields most filters read, without value_of's jump table; the rest through it.
[[gnu::always_inline]] inline std::uint64_t FlowFilter::field_value(Field f, const FlowRecord& r) noexcept {
    if (f == Field::dst_port) return r.dst_port;
    if (f == Field::src_port) return r.src_port;
    if (f == Field::proto) return r.proto;
    if (f == Field::bytes) return r.bytes;
    if (f == Field::packets) return r.packets;
    return value_of(f, r);
}

[[gnu::always_inline]] inline bool FlowFilter::term(const Node& n, const FlowRecord& r) const noexcept {
    if (n.kind == Node::Kind::address) {
        const IpAddress& a = n.address == AddressField::src   ? r.src_addr
                             : n.address == AddressField::dst ? r.dst_addr
                                                              : address_of(n.address, r);
        return sets_[n.first].contains(a);
    }
    if (n.kind == Node::Kind::always) return true;
    if (n.kind == Node::Kind::never) return false;
    const std::uint64_t v = field_value(n.field, r);
    if (n.kind == Node::Kind::in_set) {
        const auto* first = numbers_.data() + n.first;
        return std::binary_search(first, first + n.count, v);
    }
    if (n.field == Field::tcp_flags_all) return (v & n.value) == n.value;
    // Which outcomes of the comparison match, by Compare: eq, lt, gt, le, ge (bit 0: less, 1: equal, 2: greater).
    static constexpr std::uint8_t kAccepts[] = {0b010, 0b001, 0b100, 0b011, 0b110};
    const unsigned outcome = static_cast<unsigned>(v < n.value) | static_cast<unsigned>(v == n.value) << 1 |
                             static_cast<unsigned>(v > n.value) << 2;
    return (outcome & kAccepts[static_cast<std::size_t>(n.op)]) != 0;
}

bool FlowFilter::run(const FlowRecord& r) const noexcept {
    std::array<bool, kProgramStack> outer;  // NOLINT: the results of enclosing groups, written before read
    std::size_t depth = 0;
    bool result = starts_true_;  // of the group being evaluated, first the root's
    for (const Step& s : program_) {
        if (s.kind == Step::Kind::term) {
            const bool v = term(s.term, r) != s.negate;
            result = s.and_into ? (result & v) : (result | v);
        } else if (s.kind == Step::Kind::open) {
            outer[depth++] = result;
            result = s.starts_true;
        } else {
            const bool v = result != s.negate;
            result = outer[--depth];
            result = s.and_into ? (result & v) : (result | v);
        }
    }
    return result;
}

}  // namespace flowguard::exporters
