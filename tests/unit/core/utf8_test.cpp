#include <flowguard/core/alert.hpp>
#include <flowguard/core/utf8.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <doctest/doctest.h>

using namespace flowguard;

TEST_CASE("well-formed UTF-8 is kept as it is; every malformed byte becomes \\xHH") {
    CHECK(is_valid_utf8("plain.example.com"));
    CHECK(
        is_valid_utf8("b\xC3\xBC"
                      "cher.de"));                          // U+00FC
    CHECK(is_valid_utf8("\xE2\x82\xAC \xF0\x9F\x98\x80"));  // U+20AC, U+1F600
    CHECK(is_valid_utf8("\xF4\x8F\xBF\xBF"));               // U+10FFFF, the last
    CHECK_FALSE(
        is_valid_utf8("a\xFF"
                      "b.example.com"));             // never in UTF-8
    CHECK_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong '/'
    CHECK_FALSE(is_valid_utf8("\xE0\x80\xAF"));      // overlong, 3 bytes
    CHECK_FALSE(is_valid_utf8("\xED\xA0\x80"));      // a surrogate, U+D800
    CHECK_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
    CHECK_FALSE(is_valid_utf8("\xE2\x82"));          // cut short
    CHECK_FALSE(is_valid_utf8("\x80"));              // a lone continuation byte
    CHECK(to_valid_utf8("a\xFF"
                        "b.example.com") == "a\\xffb.example.com");
    CHECK(to_valid_utf8("\xE2\x82x\xC3\xBC") == "\\xe2\\x82x\xC3\xBC");  // the good sequence after stays
    CHECK(to_valid_utf8("ok") == "ok");
    for (int b = 0x80; b < 0x100; ++b) CHECK(is_valid_utf8(to_valid_utf8(std::string(1, static_cast<char>(b)))));
}

TEST_CASE("an alert with a wire name that is not UTF-8 serializes as valid JSON, strings and keys alike") {
    Alert a;
    a.id = "x@1";
    a.kind = "sunburst";
    a.domain =
        "a\xFF"
        "b.example.com";
    a.evidence = boost::json::object{{"qname", "c\xFE.avsvmcloud.com"}, {"k\xC0", boost::json::array{"\xED\xA0\x80"}}};
    const auto line = to_json_line(a);
    CHECK(is_valid_utf8(line));
    const auto parsed = boost::json::parse(line).as_object();
    CHECK(parsed.at("domain").as_string() == "a\\xffb.example.com");
    CHECK(parsed.at("evidence").at("qname").as_string() == "c\\xfe.avsvmcloud.com");
    CHECK(parsed.at("evidence").as_object().contains("k\\xc0"));
}
