#include <flowguard/analyzer/registered_domain.hpp>
#include <flowguard/analyzer/sunburst.hpp>
#include <flowguard/core/time_format.hpp>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace flowguard::analyzer {
namespace {

// The backdoor's alphabets (OrionImprovementBusinessLayer.CryptoHelper).
constexpr std::string_view kBase32Alphabet = "ph2eifo3n5utg1j8d94qrvbmk0sal76c";
constexpr std::string_view kSubstitutionAlphabet = "rq3gsalt6u1iyfzop572d49bnx8cvmkewhj";
constexpr std::string_view kSpecialChars = "0_-.";  // encoded as '0' + a letter whose index mod 4 picks one
constexpr std::array<std::string_view, 4> kRegions = {"eu-west-1", "us-west-2", "us-east-1", "us-east-2"};
// Security products in the order of the backdoor's service list (FireEye, "SUNBURST Additional Technical
// Details", 2020): two bits each in services reports.
constexpr std::array<std::string_view, 8> kProducts = {"Windows Defender",
                                                       "Windows Defender ATP",
                                                       "Microsoft Defender for Identity",
                                                       "Carbon Black",
                                                       "CrowdStrike",
                                                       "FireEye",
                                                       "ESET",
                                                       "F-Secure"};
constexpr std::int64_t kEpoch2010 = 1262304000;  // 2010-01-01T00:00:00Z, the backdoor's time origin
constexpr std::size_t kGuidChars = 15;           // 9 bytes (xor key + 8 GUID bytes) in base32
constexpr std::size_t kPingChars = 20;           // 12 bytes: key, GUID, 3 bytes of type/time/flag

constexpr std::array<std::int8_t, 256> make_index(std::string_view alphabet) {
    std::array<std::int8_t, 256> index{};
    for (auto& v : index) v = -1;
    for (std::size_t i = 0; i < alphabet.size(); ++i)
        index[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
    return index;
}
constexpr auto kBase32Index = make_index(kBase32Alphabet);
constexpr auto kSubstitutionIndex = make_index(kSubstitutionAlphabet);

int base36_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'z') return c - 'a' + 10;
    return -1;
}

// Names from the command line may carry trailing blanks besides the root dot; lower-casing is lower_name's.
std::string normalise(std::string_view name) {
    while (!name.empty() && (name.back() == '.' || name.back() == ' ' || name.back() == '\r')) name.remove_suffix(1);
    return lower_name(name);
}

SunburstMessage invalid(std::string reason) {
    SunburstMessage message;
    message.invalid_reason = std::move(reason);
    return message;
}

std::uint64_t read_guid(const std::uint8_t* bytes) {
    std::uint64_t guid = 0;
    for (int i = 0; i < 8; ++i) guid = (guid << 8) | bytes[i];
    return guid;
}

// The backdoor picks the region from the first GUID byte, so a name whose region disagrees is not its own.
bool region_matches(std::uint64_t guid, std::string_view region) {
    return kRegions[static_cast<std::size_t>(guid >> 56) % kRegions.size()] == region;
}

SunburstMessage decode_fragment(std::string_view label, std::uint64_t guid) {
    if (label.size() <= kGuidChars + 1) return invalid("domain fragment without payload");
    SunburstMessage message;
    message.kind = SunburstKind::domain_fragment;
    message.guid = guid;
    // CreateString(n, c): the sequence number is shifted by the label's first character, 35 marks the last.
    const int shifted = base36_value(label[kGuidChars]);
    const int sequence = ((shifted - static_cast<unsigned char>(label[0])) % 36 + 36) % 36;
    message.last = sequence == 35;
    if (!message.last) message.sequence = sequence;
    std::string_view payload = label.substr(kGuidChars + 1);
    // A fragment that ends in '0' (the escape character) got a '0' appended, or its last character moved to
    // the next fragment with a '0' left in its place: either way one trailing '0' is padding.
    if (payload.back() == '0') payload.remove_suffix(1);
    message.encoded_fragment = std::string(payload);
    message.base32_domain = !message.last && sequence == 0 && payload.starts_with("00");
    if (sequence == 35 && payload.starts_with("00")) message.base32_domain = true;
    return message;
}

SunburstMessage decode_data_message(std::string_view label, const std::vector<std::uint8_t>& bytes) {
    if (bytes.size() < 12) return invalid("data message shorter than 12 bytes");
    std::vector<std::uint8_t> plain(bytes.size() - 1);
    for (std::size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<std::uint8_t>(bytes[i + 1] ^ bytes[0]);
    // Three bytes after the GUID: 4 bits of message type, 19 bits of half-hours since 2010, 1 stage-2 bit.
    const unsigned type = plain[8] >> 4;
    const std::uint32_t time_and_flag = ((plain[8] & 0x0Fu) << 16) | (plain[9] << 8) | plain[10];
    SunburstMessage message;
    if (type == 1 && label.size() == kPingChars) {
        message.kind = SunburstKind::ping;
    } else if (type == 2 && label.size() > kPingChars) {
        message.kind = SunburstKind::services;
    } else {
        return invalid(fmt::format("unknown data message type {} in {} characters", type, label.size()));
    }
    // The GUID is masked with the two low time bytes in turn.
    std::uint8_t guid_bytes[8];
    for (int i = 0; i < 8; ++i) guid_bytes[i] = static_cast<std::uint8_t>(plain[i] ^ plain[(i % 2 == 0) ? 10 : 9]);
    message.guid = read_guid(guid_bytes);
    message.timestamp = kEpoch2010 + static_cast<std::int64_t>(time_and_flag >> 1) * 1800;
    message.stage2 = (time_and_flag & 1u) != 0;
    if (message.kind == SunburstKind::services) {
        const std::size_t data_size = plain.size() - 11;
        for (std::size_t i = 0; i < kProducts.size() && i / 4 < data_size; ++i) {
            const unsigned bits = (plain[plain.size() - 1 - i / 4] >> (i % 4 * 2)) & 3u;
            message.services.push_back({kProducts[i], (bits & 2u) != 0, (bits & 1u) != 0});
        }
    }
    return message;
}

}  // namespace

std::string_view to_string(SunburstKind kind) {
    switch (kind) {
        case SunburstKind::domain_fragment:
            return "domain_fragment";
        case SunburstKind::ping:
            return "ping";
        case SunburstKind::services:
            return "services";
        case SunburstKind::invalid:
            break;
    }
    return "invalid";
}

std::string guid_hex(std::uint64_t guid) {
    return fmt::format("{:016X}", guid);
}

bool is_avsvmcloud_name(std::string_view name) {
    const std::string lower = normalise(name);
    constexpr std::string_view kDomain = "avsvmcloud.com";
    if (lower == kDomain) return true;
    return lower.size() > kDomain.size() && lower.ends_with(kDomain) && lower[lower.size() - kDomain.size() - 1] == '.';
}

std::vector<std::uint8_t> decode_sunburst_base32(std::string_view encoded) {
    std::vector<std::uint8_t> out;
    out.reserve(encoded.size() * 5 / 8);
    std::uint32_t bits = 0;
    int bit_count = 0;
    for (char c : encoded) {
        const int value = kBase32Index[static_cast<unsigned char>(c)];
        if (value < 0) return {};
        bits |= static_cast<std::uint32_t>(value) << bit_count;  // least significant bits first
        bit_count += 5;
        if (bit_count >= 8) {
            out.push_back(static_cast<std::uint8_t>(bits & 0xFF));
            bits >>= 8;
            bit_count -= 8;
        }
    }
    return out;
}

std::optional<std::string> decode_substitution(std::string_view encoded) {
    std::string out;
    out.reserve(encoded.size());
    for (std::size_t i = 0; i < encoded.size(); ++i) {
        if (encoded[i] == '0') {
            if (i + 1 >= encoded.size()) return std::nullopt;
            const int index = kSubstitutionIndex[static_cast<unsigned char>(encoded[++i])];
            if (index < 0) return std::nullopt;
            out.push_back(kSpecialChars[static_cast<std::size_t>(index) % kSpecialChars.size()]);
            continue;
        }
        const int index = kSubstitutionIndex[static_cast<unsigned char>(encoded[i])];
        if (index < 0) return std::nullopt;
        const auto n = kSubstitutionAlphabet.size();
        out.push_back(kSubstitutionAlphabet[(static_cast<std::size_t>(index) + n - 4) % n]);
    }
    return out;
}

SunburstMessage decode_sunburst_name(std::string_view name) {
    const std::string lower = normalise(name);
    // <label>.appsync-api.<region>.avsvmcloud.com
    std::vector<std::string_view> labels;
    std::string_view rest = lower;
    while (!rest.empty()) {
        const auto dot = rest.find('.');
        labels.push_back(rest.substr(0, dot));
        if (dot == std::string_view::npos) break;
        rest.remove_prefix(dot + 1);
    }
    if (labels.size() != 5 || labels[1] != "appsync-api" || labels[3] != "avsvmcloud" || labels[4] != "com") {
        return invalid("not <label>.appsync-api.<region>.avsvmcloud.com");
    }
    const std::string_view region = labels[2];
    if (std::find(kRegions.begin(), kRegions.end(), region) == kRegions.end()) return invalid("unknown region");
    const std::string_view label = labels[0];
    if (label.size() <= kGuidChars) return invalid("label shorter than 16 characters");
    if (!std::all_of(label.begin(), label.end(), [](char c) { return base36_value(c) >= 0; })) {
        return invalid("label has characters outside [0-9a-z]");
    }
    const auto head = decode_sunburst_base32(label.substr(0, kGuidChars));
    if (head.size() != 9) return invalid("GUID part is not in the backdoor's base32 alphabet");
    const std::uint8_t key = head[0];
    SunburstMessage message;
    if (key & 0x80) {  // CreateSecureString(guid, true): domain fragments set the key's top bit
        std::uint8_t guid_bytes[8];
        for (int i = 0; i < 8; ++i) guid_bytes[i] = static_cast<std::uint8_t>(head[i + 1] ^ key);
        message = decode_fragment(label, read_guid(guid_bytes));
    } else {
        if (key == 0 || key == 127) return invalid("xor key out of the backdoor's range 1-126");
        const auto bytes = decode_sunburst_base32(label);
        if (bytes.empty()) return invalid("data message is not in the backdoor's base32 alphabet");
        message = decode_data_message(label, bytes);
    }
    if (message.kind == SunburstKind::invalid) return message;
    if (!region_matches(message.guid, region)) return invalid("region does not match the GUID");
    message.region = std::string(region);
    return message;
}

void SunburstDomainAssembler::add(const SunburstMessage& message) {
    if (message.kind != SunburstKind::domain_fragment) return;
    auto [it, inserted] = victims_.try_emplace(message.guid);
    if (inserted) {
        order_.push_back(message.guid);
        if (victims_.size() > max_victims_) {
            victims_.erase(order_.front());
            order_.pop_front();
        }
        it = victims_.find(message.guid);
        if (it == victims_.end()) return;
    }
    Victim& victim = it->second;
    if (message.last) {
        if (!victim.has_last) victim.last_fragment = message.encoded_fragment;
        victim.has_last = true;
        if (victim.previous >= 0 && victim.present == (1ull << (victim.previous + 1)) - 1) victim.confirmed = true;
    } else if (message.sequence && *message.sequence < static_cast<int>(victim.fragments.size())) {
        const auto n = static_cast<std::size_t>(*message.sequence);
        if (!(victim.present & (1ull << n))) victim.fragments[n] = message.encoded_fragment;
        victim.present |= 1ull << n;
        victim.previous = *message.sequence;
    }
}

int SunburstDomainAssembler::leading_fragments(const Victim& victim) const {
    int count = 0;
    while (count < static_cast<int>(victim.fragments.size()) && (victim.present & (1ull << count))) ++count;
    return count;
}

std::optional<std::string> SunburstDomainAssembler::encoded_domain(const Victim& victim) const {
    if (!victim.has_last) return std::nullopt;
    const int count = leading_fragments(victim);
    if (victim.present != ((1ull << count) - 1)) return std::nullopt;  // a gap: some fragment is missing
    std::string encoded;
    for (int i = 0; i < count; ++i) encoded += victim.fragments[static_cast<std::size_t>(i)];
    return encoded + victim.last_fragment;
}

namespace {
std::optional<std::string> decode_text(std::string_view encoded) {
    if (encoded.starts_with("00")) {
        const auto bytes = decode_sunburst_base32(encoded.substr(2));
        if (bytes.empty()) return std::nullopt;
        return std::string(bytes.begin(), bytes.end());
    }
    return decode_substitution(encoded);
}

// A lone last fragment is indistinguishable from a one-fragment domain; one that starts or ends like the tail
// of a longer name (".com", "-x") is not taken as a whole domain.
std::optional<std::string> decode_domain(std::string_view encoded) {
    auto text = decode_text(encoded);
    if (!text || text->empty()) return std::nullopt;
    constexpr std::string_view kNotAtEdge = ".-_";
    if (kNotAtEdge.find(text->front()) != std::string_view::npos ||
        kNotAtEdge.find(text->back()) != std::string_view::npos) {
        return std::nullopt;
    }
    return text;
}
}  // namespace

std::optional<std::string> SunburstDomainAssembler::domain(std::uint64_t guid) const {
    const auto it = victims_.find(guid);
    if (it == victims_.end()) return std::nullopt;
    const auto encoded = encoded_domain(it->second);
    if (!encoded) return std::nullopt;
    return decode_domain(*encoded);
}

std::optional<std::string> SunburstDomainAssembler::assembled_domain(std::uint64_t guid) const {
    const auto it = victims_.find(guid);
    if (it == victims_.end() || !it->second.confirmed) return std::nullopt;
    const auto encoded = encoded_domain(it->second);
    if (!encoded) return std::nullopt;
    return decode_text(*encoded);
}

std::optional<std::string> SunburstDomainAssembler::partial_domain(std::uint64_t guid) const {
    const auto it = victims_.find(guid);
    if (it == victims_.end()) return std::nullopt;
    const Victim& victim = it->second;
    std::string encoded;
    for (int i = 0; i < leading_fragments(victim); ++i) encoded += victim.fragments[static_cast<std::size_t>(i)];
    std::string text;
    if (!encoded.empty()) {
        const auto known = decode_text(encoded);
        if (!known) return std::nullopt;
        text = *known;
    }
    if (victim.has_last) {
        const auto tail = decode_text(victim.last_fragment);
        if (!tail) return std::nullopt;
        text += (text.empty() ? "" : " ... ") + *tail;
    }
    if (text.empty()) return std::nullopt;
    return text;
}

std::optional<int> SunburstDomainAssembler::sequence_of(const SunburstMessage& message) const {
    if (message.kind != SunburstKind::domain_fragment) return std::nullopt;
    if (!message.last) return message.sequence;
    const auto it = victims_.find(message.guid);
    if (it == victims_.end() || !encoded_domain(it->second)) return std::nullopt;
    return leading_fragments(it->second);
}

std::optional<std::string> SunburstDomainAssembler::fragment_text(const SunburstMessage& message) const {
    if (message.kind != SunburstKind::domain_fragment) return std::nullopt;
    const auto it = victims_.find(message.guid);
    const Victim* victim = it == victims_.end() ? nullptr : &it->second;
    const bool opens_base32 = message.encoded_fragment.starts_with("00") && message.sequence.value_or(0) == 0;
    const bool base32 = opens_base32 || (victim && (victim->present & 1) && victim->fragments[0].starts_with("00"));
    if (!base32) return decode_substitution(message.encoded_fragment);
    // Base32 runs across fragments: the text of fragment n is what decoding 0..n adds to decoding 0..n-1.
    const auto position = sequence_of(message);
    if (!position) return opens_base32 ? decode_text(message.encoded_fragment) : std::nullopt;
    std::string before;
    for (int i = 0; i < *position; ++i) {
        if (!victim || !(victim->present & (1ull << i))) return std::nullopt;
        before += victim->fragments[static_cast<std::size_t>(i)];
    }
    const auto whole = decode_text(before + message.encoded_fragment);
    const auto prefix = before.empty() ? std::optional<std::string>("") : decode_text(before);
    if (!whole || !prefix || whole->size() < prefix->size()) return std::nullopt;
    return whole->substr(prefix->size());
}

namespace {

boost::json::value optional_string(const std::optional<std::string>& text) {
    if (!text) return nullptr;
    return boost::json::value(*text);
}

}  // namespace

boost::json::object describe_sunburst_name(const std::string& name, const SunburstMessage& message,
                                           const SunburstDomainAssembler& assembler) {
    boost::json::object out;
    out["name"] = name;
    out["kind"] = std::string(to_string(message.kind));
    const bool valid = message.kind != SunburstKind::invalid;
    const bool fragment = message.kind == SunburstKind::domain_fragment;
    const bool data = message.kind == SunburstKind::ping || message.kind == SunburstKind::services;
    out["guid"] = valid ? boost::json::value(guid_hex(message.guid)) : nullptr;
    out["region"] = valid ? boost::json::value(message.region) : nullptr;
    const auto sequence = assembler.sequence_of(message);
    out["sequence"] = sequence ? boost::json::value(*sequence) : nullptr;
    out["last"] = fragment ? boost::json::value(message.last) : nullptr;
    out["fragment"] = optional_string(assembler.fragment_text(message));
    out["encoded_fragment"] = fragment ? boost::json::value(message.encoded_fragment) : nullptr;
    out["domain"] = valid ? optional_string(assembler.domain(message.guid)) : nullptr;
    out["timestamp"] = data ? boost::json::value(format_iso8601_seconds(message.timestamp)) : nullptr;
    out["stage2"] = data ? boost::json::value(message.stage2) : nullptr;
    if (message.kind == SunburstKind::services) {
        boost::json::array services;
        for (const auto& service : message.services) {
            services.push_back({{"product", std::string(service.product)},
                                {"running", service.running},
                                {"stopped", service.stopped}});
        }
        out["services"] = std::move(services);
    }
    if (!valid) out["reason"] = message.invalid_reason;
    return out;
}

}  // namespace flowguard::analyzer
