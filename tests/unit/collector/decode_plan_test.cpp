#include <flowguard/collector/decode_plan.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <vector>

using namespace flowguard::collector;

TEST_CASE("a fixed-length template compiles to the useful steps with precomputed offsets") {
    const std::vector<TemplateField> fields{{8, 4, 0}, {999, 6, 0}, {12, 4, 0}, {1, 8, 0}, {7, 2, 0}};
    DecodePlan plan;
    REQUIRE(compile_plan(fields, 0, false, true, plan) == PlanError::none);
    CHECK_FALSE(plan.variable_length);
    CHECK(plan.record_length == 24);
    REQUIRE(plan.steps.size() == 4);  // the unknown element 999 is only skipped by offset
    CHECK(plan.steps[0].op == FieldOp::src_v4);
    CHECK(plan.steps[1].op == FieldOp::dst_v4);
    CHECK(plan.steps[1].offset == 10);
    CHECK(plan.steps[2].op == FieldOp::bytes);
    CHECK(plan.steps[3].offset == 22);
}

TEST_CASE("the best of several elements for one quantity wins, whatever their order") {
    // octetTotalCount (85) before octetDeltaCount (1): the delta count is the one to use.
    const std::vector<TemplateField> fields{{85, 8, 0}, {1, 4, 0}, {1, 4, 0}};
    DecodePlan plan;
    REQUIRE(compile_plan(fields, 0, false, true, plan) == PlanError::none);
    REQUIRE(plan.steps.size() == 1);
    CHECK(plan.steps[0].op == FieldOp::bytes);
    CHECK(plan.steps[0].offset == 8);
}

TEST_CASE("enterprise and wrongly sized elements are skipped, never stored") {
    const std::vector<TemplateField> fields{{8, 4, 9}, {12, 3, 0}, {7, 2, 0}};
    DecodePlan plan;
    REQUIRE(compile_plan(fields, 0, false, true, plan) == PlanError::none);
    REQUIRE(plan.steps.size() == 1);
    CHECK(plan.steps[0].op == FieldOp::src_port);
    CHECK(plan.steps[0].offset == 7);
}

TEST_CASE("variable-length templates keep every field in order") {
    const std::vector<TemplateField> fields{{8, 4, 0}, {82, kVariableLength, 0}, {7, 2, 0}};
    DecodePlan plan;
    REQUIRE(compile_plan(fields, 0, false, true, plan) == PlanError::none);
    CHECK(plan.variable_length);
    CHECK(plan.steps.size() == 3);
    CHECK(plan.min_record_length == 7);
}

TEST_CASE("hostile templates are refused") {
    DecodePlan plan;
    CHECK(compile_plan({}, 0, false, true, plan) == PlanError::no_fields);
    const std::vector<TemplateField> zero{{8, 0, 0}, {12, 0, 0}};
    CHECK(compile_plan(zero, 0, false, true, plan) == PlanError::empty_record);
    const std::vector<TemplateField> v9_var{{8, kVariableLength, 0}};
    CHECK(compile_plan(v9_var, 0, false, false, plan) == PlanError::variable_in_v9);
    std::vector<TemplateField> huge(20, TemplateField{1, 4000, 0});
    CHECK(compile_plan(huge, 0, false, true, plan) == PlanError::too_long);
}

TEST_CASE("a zero-length field takes no bytes (Cisco's v9 options scope)") {
    const std::vector<TemplateField> fields{{1, 0, 0xffffffff}, {35, 1, 0}, {34, 4, 0}};
    DecodePlan plan;
    REQUIRE(compile_plan(fields, 1, true, false, plan) == PlanError::none);
    CHECK(plan.record_length == 5);
    REQUIRE(plan.steps.size() == 1);
    CHECK(plan.steps[0].op == FieldOp::sampling_interval);
    CHECK(plan.steps[0].offset == 1);
}

TEST_CASE("element 57 is the destination MAC in v9 but a lower-ranked post MAC in IPFIX") {
    const std::vector<TemplateField> fields{{57, 6, 0}, {80, 6, 0}};
    DecodePlan v9;
    REQUIRE(compile_plan(std::vector<TemplateField>{{57, 6, 0}}, 0, false, false, v9) == PlanError::none);
    CHECK(v9.steps[0].op == FieldOp::dst_mac);
    DecodePlan ipfix;
    REQUIRE(compile_plan(fields, 0, false, true, ipfix) == PlanError::none);
    REQUIRE(ipfix.steps.size() == 1);
    CHECK(ipfix.steps[0].offset == 6);
}

TEST_CASE("flow-record plans are sorted by member type and cut into segments at variable-length fields") {
    // src (4), interfaceName (variable), proto (1), dst port (2, after the variable field), bytes (reduced, 3)
    const std::vector<TemplateField> fields{{8, 4, 0}, {82, kVariableLength, 0}, {4, 1, 0}, {11, 2, 0}, {1, 3, 0}};
    DecodePlan plan;
    REQUIRE(compile_plan(fields, 0, false, true, plan) == PlanError::none);
    REQUIRE(plan.has_typed);
    CHECK(plan.typed.segment_lengths == std::vector<std::uint16_t>{4, 6});
    const auto addresses = plan.typed.group(TypedSteps::addresses);
    REQUIRE(addresses.size() == 1);
    CHECK(addresses[0].segment == 0);
    CHECK(addresses[0].etype == flowguard::kEtherTypeIPv4);
    CHECK(addresses[0].member == offsetof(flowguard::FlowRecord, src_addr));
    const auto u16 = plan.typed.group(TypedSteps::exact16);  // a 2-byte port into a 16-bit member
    REQUIRE(u16.size() == 1);
    CHECK(u16[0].segment == 1);
    CHECK(u16[0].at == 3);  // proto takes byte 0 of segment 1, the port bytes 1-2: it ends at 3
    CHECK(u16[0].shift == 48);
    CHECK(u16[0].member == offsetof(flowguard::FlowRecord, dst_port));
    const auto u64 = plan.typed.group(TypedSteps::u64);
    REQUIRE(u64.size() == 1);
    CHECK(u64[0].at == 6);
    CHECK(u64[0].shift == 40);  // a 3-byte counter
    CHECK(plan.typed.group(TypedSteps::exact8).size() == 1);
    CHECK(plan.typed.group(TypedSteps::u16).empty());
    CHECK(plan.typed.group(TypedSteps::other).empty());
    CHECK(plan.typed.steps.size() == 4);

    // Options records and templates with very many variable-length fields keep the field-by-field walk.
    DecodePlan options;
    REQUIRE(compile_plan(fields, 1, true, true, options) == PlanError::none);
    CHECK_FALSE(options.has_typed);
    std::vector<TemplateField> many(kMaxTypedSegments, TemplateField{82, kVariableLength, 0});
    many.push_back({7, 2, 0});
    DecodePlan walked;
    REQUIRE(compile_plan(many, 0, false, true, walked) == PlanError::none);
    CHECK_FALSE(walked.has_typed);
}
