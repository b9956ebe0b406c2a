#include <flowguard/analyzer/lexical.hpp>

#include <algorithm>
#include <array>
#include <cmath>

namespace flowguard::analyzer {
namespace {

// Letter-bigram likelihood of host-name words. The model is built once from words people put in host names
// (our own list: services, products, places, common English); generated labels are made of pairs these
// words rarely contain ("qx", "zj", "vq", digits between letters).
constexpr const char* kHostWords[] = {
    "www",         "mail",       "smtp",        "imap",          "webmail",       "remote",    "vpn",
    "portal",      "login",      "account",     "secure",        "static",        "images",    "image",
    "video",       "media",      "content",     "download",      "update",        "updates",   "service",
    "services",    "server",     "cloud",       "storage",       "backup",        "office",    "outlook",
    "online",      "support",    "help",        "news",          "shop",          "store",     "market",
    "search",      "maps",       "translate",   "analytics",     "metrics",       "telemetry", "events",
    "api",         "gateway",    "edge",        "cache",         "proxy",         "router",    "internal",
    "corporate",   "company",    "group",       "global",        "international", "national",  "central",
    "county",      "state",      "city",        "university",    "college",       "school",    "library",
    "hospital",    "health",     "medical",     "bank",          "finance",       "insurance", "energy",
    "power",       "water",      "network",     "networks",      "systems",       "solutions", "technology",
    "software",    "hardware",   "digital",     "data",          "database",      "center",    "management",
    "marketing",   "sales",      "customer",    "partner",       "developer",     "docs",      "document",
    "documents",   "windows",    "microsoft",   "google",        "amazon",        "apple",     "facebook",
    "twitter",     "linkedin",   "github",      "gitlab",        "slack",         "zoom",      "teams",
    "adobe",       "oracle",     "salesforce",  "akamai",        "cloudflare",    "fastly",    "azure",
    "office365",   "sharepoint", "onedrive",    "dropbox",       "youtube",       "netflix",   "spotify",
    "weather",     "travel",     "hotel",       "airline",       "sports",        "games",     "music",
    "books",       "family",     "home",        "house",         "garden",        "green",     "blue",
    "black",       "white",      "north",       "south",         "east",          "west",      "river",
    "mountain",    "valley",     "lake",        "park",          "station",       "street",    "market",
    "trade",       "express",    "first",       "second",        "better",        "world",     "planet",
    "star",        "light",      "sun",         "moon",          "time",          "people",    "community",
    "public",      "private",    "information", "communication", "education",     "research",  "science",
    "engineering", "design",     "studio",      "creative",      "consulting",    "services",  "logistics",
    "transport",   "delivery",   "payment",     "checkout",      "accounts",      "profile",   "settings",
    "config",      "status",     "monitor",     "ntp",           "time",          "pool",      "resolver",
    "printer",     "scanner",    "phone",       "mobile",        "wireless",      "desktop",   "laptop",
    "client",      "host",       "domain",      "local",         "localdomain",   "corp",      "example",
    "test",        "staging",    "production",  "development",   "beta"};

struct BigramModel {
    std::array<float, 27 * 27> log_probability{};  // [previous letter or start][letter]; 26 = non-letter

    BigramModel() {
        std::array<double, 27 * 27> counts{};
        for (auto& c : counts) c = 0.5;  // smoothing: unseen pairs are rare, not impossible
        for (const char* word : kHostWords) {
            int previous = 26;
            for (const char* p = word; *p; ++p) {
                const int letter = (*p >= 'a' && *p <= 'z') ? *p - 'a' : 26;
                counts[static_cast<std::size_t>(previous * 27 + letter)] += 1;
                previous = letter;
            }
        }
        for (int a = 0; a < 27; ++a) {
            double row = 0;
            for (int b = 0; b < 27; ++b) row += counts[static_cast<std::size_t>(a * 27 + b)];
            for (int b = 0; b < 27; ++b) {
                const auto i = static_cast<std::size_t>(a * 27 + b);
                log_probability[i] = static_cast<float>(std::log2(counts[i] / row));
            }
        }
    }
};

const BigramModel& bigrams() {
    static const BigramModel model;
    return model;
}

}  // namespace

LexicalScore lexical_score(std::string_view subdomain) {
    LexicalScore out;
    std::array<std::uint16_t, 256> counts{};
    std::size_t letters = 0, digits = 0, vowels = 0, run = 0, n = 0;
    for (char raw : subdomain) {
        if (raw == '.' || raw == '-' || raw == '_') {
            run = 0;
            continue;
        }
        char c = raw;
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        ++counts[static_cast<unsigned char>(c)];
        ++n;
        if (c >= '0' && c <= '9') {
            ++digits;
            run = 0;
        } else if (c >= 'a' && c <= 'z') {
            ++letters;
            if (c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y') {
                ++vowels;
                run = 0;
            } else {
                out.longest_consonant_run = std::max(out.longest_consonant_run, ++run);
            }
        }
    }
    out.length = n;
    if (n == 0) return out;
    {
        const auto& model = bigrams();
        int previous = 26;
        double total = 0;
        std::size_t pairs = 0;
        for (char raw : subdomain) {
            char c = (raw >= 'A' && raw <= 'Z') ? static_cast<char>(raw - 'A' + 'a') : raw;
            if (c == '.' || c == '-' || c == '_') {
                previous = 26;
                continue;
            }
            const int letter = (c >= 'a' && c <= 'z') ? c - 'a' : 26;
            total += model.log_probability[static_cast<std::size_t>(previous * 27 + letter)];
            ++pairs;
            previous = letter;
        }
        out.bigram_log2 = pairs ? total / static_cast<double>(pairs) : 0.0;
    }
    for (auto count : counts) {
        if (count == 0) continue;
        const double p = static_cast<double>(count) / static_cast<double>(n);
        out.entropy -= p * std::log2(p);
    }
    out.digit_ratio = static_cast<double>(digits) / static_cast<double>(n);
    out.vowel_ratio = letters ? static_cast<double>(vowels) / static_cast<double>(letters) : 0.0;
    // Each feature mapped to 0..1 where random alphanumerics land near 1 and words near 0.
    const double max_entropy = std::log2(static_cast<double>(std::min<std::size_t>(n, 36)));
    // Short labels always look high-entropy (every letter distinct): weigh entropy in with length.
    const double entropy_part = max_entropy > 0 ? std::clamp((out.entropy / max_entropy - 0.6) / 0.35, 0.0, 1.0) *
                                                      std::min(1.0, static_cast<double>(n) / 12.0)
                                                : 0.0;
    const double digit_part = std::clamp(out.digit_ratio / 0.3, 0.0, 1.0);
    const double run_part = std::clamp((static_cast<double>(out.longest_consonant_run) - 2.0) / 4.0, 0.0, 1.0);
    const double vowel_part = std::clamp((0.38 - out.vowel_ratio) / 0.25, 0.0, 1.0);
    const double length_part = std::clamp((static_cast<double>(n) - 8.0) / 16.0, 0.0, 1.0);
    // Host-name words average -3.5 to -4.4 bits per pair under the model, random alphanumerics -5 to -6.2.
    const double bigram_part = std::clamp((-out.bigram_log2 - 3.8) / 1.8, 0.0, 1.0);
    out.score = 0.25 * entropy_part + 0.15 * digit_part + 0.15 * run_part + 0.1 * vowel_part + 0.1 * length_part +
                0.25 * bigram_part;
    return out;
}

std::uint64_t hash_name(std::string_view name) noexcept {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a, then a final mix for the HyperLogLog's bit patterns
    for (char c : name) {
        h ^= static_cast<unsigned char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
        h *= 1099511628211ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

void DistinctCounter::add(std::uint64_t hash) noexcept {
    const auto index = static_cast<std::size_t>(hash >> 56);
    const std::uint64_t rest = hash << 8;
    const auto rank = static_cast<std::uint8_t>(rest == 0 ? 57 : __builtin_clzll(rest) + 1);
    if (rank > registers_[index]) registers_[index] = rank;
}

double DistinctCounter::estimate() const noexcept {
    constexpr double m = 256;
    double sum = 0;
    int zeros = 0;
    for (auto r : registers_) {
        sum += std::ldexp(1.0, -r);
        if (r == 0) ++zeros;
    }
    const double raw = (0.7213 / (1 + 1.079 / m)) * m * m / sum;
    if (raw <= 2.5 * m && zeros > 0) return m * std::log(m / zeros);  // small-range correction (linear counting)
    return raw;
}

}  // namespace flowguard::analyzer
