//! The property table: for every STIX 2.1 type, which properties it defines,
//! their value kinds and which are required (STIX 2.1 §4–§7 and the SCO
//! sections of §6). Checked against the OASIS JSON schemas by hand.

use super::vocab::{self, Vocab};

/// Which object types a reference property may point to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Targets {
    Any,
    Only(&'static [&'static str]),
    /// Any SCO type, predefined or custom (custom ones cannot be told apart).
    Sco,
    /// observed-data `object_refs`: SCOs and SROs.
    ScoOrSro,
    /// Relationship ends: anything but SROs and meta objects (§5.1).
    RelationshipEnd,
    /// sighting_of_ref: an SDO or a custom object (§5.2).
    SdoOrCustom,
}

/// The kind of value a property holds.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Str,
    StrList,
    Bool,
    Int,
    IntRange(i64, i64),
    Number,
    NumRange(f64, f64),
    Timestamp,
    /// `created`/`modified`: millisecond precision at least (§3.2).
    TimestampMillis,
    Ref(Targets),
    RefList(Targets),
    Open(&'static Vocab),
    OpenList(&'static Vocab),
    Closed(&'static [&'static str]),
    ClosedList(&'static [&'static str]),
    Dict,
    /// http-request-ext `request_header`: header name to list of strings.
    HeaderDict,
    Hashes,
    KillChainPhases,
    ExternalReferences,
    GranularMarkings,
    Extensions,
    Hex,
    Binary,
    Url,
    Lang,
    Object(&'static [Prop]),
    ObjectList(&'static [Prop]),
    /// Checked by the per-type rules (e.g. `definition`, deprecated `objects`).
    Any,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Prop {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

const fn opt(name: &'static str, kind: Kind) -> Prop {
    Prop {
        name,
        kind,
        required: false,
    }
}

const fn req(name: &'static str, kind: Kind) -> Prop {
    Prop {
        name,
        kind,
        required: true,
    }
}

/// The broad family of an object type; decides the common properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Sdo,
    Sro,
    Sco,
    /// marking-definition, language-content, extension-definition.
    Meta,
}

#[derive(Debug)]
pub(crate) struct TypeSpec {
    pub name: &'static str,
    pub family: Family,
    pub props: &'static [Prop],
    /// Predefined extension names (`*-ext`) with their properties (SCOs only).
    pub extensions: &'static [(&'static str, &'static [Prop])],
}

use Kind::*;
use Targets::{Only, ScoOrSro};

const IDENTITY: Targets = Only(&["identity"]);
const MARKING: Targets = Only(&["marking-definition"]);
const SOFTWARE: Targets = Only(&["software"]);
const ARTIFACT: Targets = Only(&["artifact"]);
const FILE: Targets = Only(&["file"]);
const EMAIL_ADDR: Targets = Only(&["email-addr"]);
const USER_ACCOUNT: Targets = Only(&["user-account"]);
const NETWORK_TRAFFIC: Targets = Only(&["network-traffic"]);
const PROCESS: Targets = Only(&["process"]);

/// Properties every SDO and SRO may carry (§3.2), in the order checked.
pub(crate) const SDO_COMMON: &[Prop] = &[
    req("type", Str),
    req("spec_version", Str),
    req("id", Str),
    opt("created_by_ref", Ref(IDENTITY)),
    req("created", TimestampMillis),
    req("modified", TimestampMillis),
    opt("revoked", Bool),
    opt("labels", StrList),
    opt("confidence", IntRange(0, 100)),
    opt("lang", Lang),
    opt("external_references", ExternalReferences),
    opt("object_marking_refs", RefList(MARKING)),
    opt("granular_markings", GranularMarkings),
    opt("extensions", Extensions),
];

/// Properties every SCO may carry (§6.1).
pub(crate) const SCO_COMMON: &[Prop] = &[
    req("type", Str),
    opt("spec_version", Str),
    req("id", Str),
    opt("object_marking_refs", RefList(MARKING)),
    opt("granular_markings", GranularMarkings),
    opt("defanged", Bool),
    opt("extensions", Extensions),
];

/// marking-definition (§7.2.1): not versioned, so no `modified`.
pub(crate) const MARKING_COMMON: &[Prop] = &[
    req("type", Str),
    req("spec_version", Str),
    req("id", Str),
    opt("created_by_ref", Ref(IDENTITY)),
    // §7.2.1 does not ask marking-definitions for millisecond precision.
    req("created", Timestamp),
    opt("external_references", ExternalReferences),
    opt("object_marking_refs", RefList(MARKING)),
    opt("granular_markings", GranularMarkings),
    opt("extensions", Extensions),
];

pub(crate) const KILL_CHAIN_PHASE: &[Prop] = &[req("kill_chain_name", Str), req("phase_name", Str)];

pub(crate) const EXTERNAL_REFERENCE: &[Prop] = &[
    req("source_name", Str),
    opt("description", Str),
    opt("url", Url),
    opt("hashes", Hashes),
    opt("external_id", Str),
];

pub(crate) const GRANULAR_MARKING: &[Prop] = &[
    opt("lang", Lang),
    opt("marking_ref", Ref(MARKING)),
    req("selectors", StrList),
];

const ALTERNATE_DATA_STREAM: &[Prop] = &[
    req("name", Str),
    opt("hashes", Hashes),
    opt("size", IntRange(0, i64::MAX)),
];

const PE_OPTIONAL_HEADER: &[Prop] = &[
    opt("magic_hex", Hex),
    opt("major_linker_version", Int),
    opt("minor_linker_version", Int),
    opt("size_of_code", IntRange(0, i64::MAX)),
    opt("size_of_initialized_data", IntRange(0, i64::MAX)),
    opt("size_of_uninitialized_data", IntRange(0, i64::MAX)),
    opt("address_of_entry_point", Int),
    opt("base_of_code", Int),
    opt("base_of_data", Int),
    opt("image_base", Int),
    opt("section_alignment", Int),
    opt("file_alignment", Int),
    opt("major_os_version", Int),
    opt("minor_os_version", Int),
    opt("major_image_version", Int),
    opt("minor_image_version", Int),
    opt("major_subsystem_version", Int),
    opt("minor_subsystem_version", Int),
    opt("win32_version_value_hex", Hex),
    opt("size_of_image", IntRange(0, i64::MAX)),
    opt("size_of_headers", IntRange(0, i64::MAX)),
    opt("checksum_hex", Hex),
    opt("subsystem_hex", Hex),
    opt("dll_characteristics_hex", Hex),
    opt("size_of_stack_reserve", IntRange(0, i64::MAX)),
    opt("size_of_stack_commit", IntRange(0, i64::MAX)),
    opt("size_of_heap_reserve", IntRange(0, i64::MAX)),
    opt("size_of_heap_commit", IntRange(0, i64::MAX)),
    opt("loader_flags_hex", Hex),
    opt("number_of_rva_and_sizes", Int),
    opt("hashes", Hashes),
];

const PE_SECTION: &[Prop] = &[
    req("name", Str),
    opt("size", IntRange(0, i64::MAX)),
    opt("entropy", Number),
    opt("hashes", Hashes),
];

const FILE_EXTENSIONS: &[(&str, &[Prop])] = &[
    (
        "ntfs-ext",
        &[
            opt("sid", Str),
            opt("alternate_data_streams", ObjectList(ALTERNATE_DATA_STREAM)),
        ],
    ),
    (
        "raster-image-ext",
        &[
            opt("image_height", Int),
            opt("image_width", Int),
            opt("bits_per_pixel", Int),
            opt("exif_tags", Dict),
        ],
    ),
    (
        "pdf-ext",
        &[
            opt("version", Str),
            opt("is_optimized", Bool),
            opt("document_info_dict", Dict),
            opt("pdfid0", Str),
            opt("pdfid1", Str),
        ],
    ),
    (
        "archive-ext",
        &[
            req("contains_refs", RefList(Only(&["file", "directory"]))),
            opt("comment", Str),
        ],
    ),
    (
        "windows-pebinary-ext",
        &[
            req("pe_type", Open(&vocab::WINDOWS_PEBINARY_TYPE)),
            opt("imphash", Str),
            opt("machine_hex", Hex),
            opt("number_of_sections", IntRange(0, i64::MAX)),
            opt("time_date_stamp", Timestamp),
            opt("pointer_to_symbol_table_hex", Hex),
            opt("number_of_symbols", IntRange(0, i64::MAX)),
            opt("size_of_optional_header", IntRange(0, i64::MAX)),
            opt("characteristics_hex", Hex),
            opt("file_header_hashes", Hashes),
            opt("optional_header", Object(PE_OPTIONAL_HEADER)),
            opt("sections", ObjectList(PE_SECTION)),
        ],
    ),
];

const NETWORK_TRAFFIC_EXTENSIONS: &[(&str, &[Prop])] = &[
    (
        "http-request-ext",
        &[
            req("request_method", Str),
            req("request_value", Str),
            opt("request_version", Str),
            opt("request_header", HeaderDict),
            opt("message_body_length", Int),
            opt("message_body_data_ref", Ref(ARTIFACT)),
        ],
    ),
    (
        "icmp-ext",
        &[req("icmp_type_hex", Hex), req("icmp_code_hex", Hex)],
    ),
    (
        "socket-ext",
        &[
            req(
                "address_family",
                Closed(vocab::NETWORK_SOCKET_ADDRESS_FAMILY),
            ),
            opt("is_blocking", Bool),
            opt("is_listening", Bool),
            opt("options", Dict),
            opt("socket_type", Closed(vocab::NETWORK_SOCKET_TYPE)),
            opt("socket_descriptor", IntRange(0, i64::MAX)),
            opt("socket_handle", Int),
        ],
    ),
    (
        "tcp-ext",
        &[opt("src_flags_hex", Hex), opt("dst_flags_hex", Hex)],
    ),
];

const PROCESS_EXTENSIONS: &[(&str, &[Prop])] = &[
    (
        "windows-process-ext",
        &[
            opt("aslr_enabled", Bool),
            opt("dep_enabled", Bool),
            opt("priority", Str),
            opt("owner_sid", Str),
            opt("window_title", Str),
            opt("startup_info", Dict),
            opt("integrity_level", Closed(vocab::WINDOWS_INTEGRITY_LEVEL)),
        ],
    ),
    (
        "windows-service-ext",
        &[
            opt("service_name", Str),
            opt("descriptions", StrList),
            opt("display_name", Str),
            opt("group_name", Str),
            opt("start_type", Closed(vocab::WINDOWS_SERVICE_START_TYPE)),
            opt("service_dll_refs", RefList(FILE)),
            opt("service_type", Closed(vocab::WINDOWS_SERVICE_TYPE)),
            opt("service_status", Closed(vocab::WINDOWS_SERVICE_STATUS)),
        ],
    ),
];

const USER_ACCOUNT_EXTENSIONS: &[(&str, &[Prop])] = &[(
    "unix-account-ext",
    &[
        opt("gid", Int),
        opt("groups", StrList),
        opt("home_dir", Str),
        opt("shell", Str),
    ],
)];

const MIME_PART: &[Prop] = &[
    opt("body", Str),
    opt("body_raw_ref", Ref(Only(&["artifact", "file"]))),
    opt("content_type", Str),
    opt("content_disposition", Str),
];

const REGISTRY_VALUE: &[Prop] = &[
    opt("name", Str),
    opt("data", Str),
    opt("data_type", Closed(vocab::WINDOWS_REGISTRY_DATATYPE)),
];

const X509_V3_EXTENSIONS: &[Prop] = &[
    opt("basic_constraints", Str),
    opt("name_constraints", Str),
    opt("policy_constraints", Str),
    opt("key_usage", Str),
    opt("extended_key_usage", Str),
    opt("subject_key_identifier", Str),
    opt("authority_key_identifier", Str),
    opt("subject_alternative_name", Str),
    opt("issuer_alternative_name", Str),
    opt("subject_directory_attributes", Str),
    opt("crl_distribution_points", Str),
    opt("inhibit_any_policy", Str),
    opt("private_key_usage_period_not_before", Timestamp),
    opt("private_key_usage_period_not_after", Timestamp),
    opt("certificate_policies", Str),
    opt("policy_mappings", Str),
];

const fn sdo(name: &'static str, props: &'static [Prop]) -> TypeSpec {
    TypeSpec {
        name,
        family: Family::Sdo,
        props,
        extensions: &[],
    }
}

const fn sco(name: &'static str, props: &'static [Prop]) -> TypeSpec {
    TypeSpec {
        name,
        family: Family::Sco,
        props,
        extensions: &[],
    }
}

const fn sco_ext(
    name: &'static str,
    props: &'static [Prop],
    extensions: &'static [(&'static str, &'static [Prop])],
) -> TypeSpec {
    TypeSpec {
        name,
        family: Family::Sco,
        props,
        extensions,
    }
}

/// Every type the specification defines, sorted by name for binary search.
pub(crate) static TYPES: &[TypeSpec] = &[
    sco(
        "artifact",
        &[
            opt("mime_type", Str),
            opt("payload_bin", Binary),
            opt("url", Url),
            opt("hashes", Hashes),
            opt("encryption_algorithm", Closed(vocab::ENCRYPTION_ALGORITHM)),
            opt("decryption_key", Str),
        ],
    ),
    sdo(
        "attack-pattern",
        &[
            req("name", Str),
            opt("description", Str),
            opt("aliases", StrList),
            opt("kill_chain_phases", KillChainPhases),
        ],
    ),
    sco(
        "autonomous-system",
        &[req("number", Int), opt("name", Str), opt("rir", Str)],
    ),
    sdo(
        "campaign",
        &[
            req("name", Str),
            opt("description", Str),
            opt("aliases", StrList),
            opt("first_seen", Timestamp),
            opt("last_seen", Timestamp),
            opt("objective", Str),
        ],
    ),
    sdo(
        "course-of-action",
        &[req("name", Str), opt("description", Str)],
    ),
    sco(
        "directory",
        &[
            req("path", Str),
            opt("path_enc", Str),
            opt("ctime", Timestamp),
            opt("mtime", Timestamp),
            opt("atime", Timestamp),
            opt("contains_refs", RefList(Only(&["file", "directory"]))),
        ],
    ),
    sco(
        "domain-name",
        &[
            req("value", Str),
            opt(
                "resolves_to_refs",
                RefList(Only(&["ipv4-addr", "ipv6-addr", "domain-name"])),
            ),
        ],
    ),
    sco(
        "email-addr",
        &[
            req("value", Str),
            opt("display_name", Str),
            opt("belongs_to_ref", Ref(USER_ACCOUNT)),
        ],
    ),
    sco(
        "email-message",
        &[
            req("is_multipart", Bool),
            opt("date", Timestamp),
            opt("content_type", Str),
            opt("from_ref", Ref(EMAIL_ADDR)),
            opt("sender_ref", Ref(EMAIL_ADDR)),
            opt("to_refs", RefList(EMAIL_ADDR)),
            opt("cc_refs", RefList(EMAIL_ADDR)),
            opt("bcc_refs", RefList(EMAIL_ADDR)),
            opt("message_id", Str),
            opt("subject", Str),
            opt("received_lines", StrList),
            opt("additional_header_fields", Dict),
            opt("body", Str),
            opt("body_multipart", ObjectList(MIME_PART)),
            opt("raw_email_ref", Ref(ARTIFACT)),
        ],
    ),
    TypeSpec {
        name: "extension-definition",
        family: Family::Meta,
        props: &[
            req("created_by_ref", Ref(IDENTITY)),
            req("name", Str),
            opt("description", Str),
            req("schema", Str),
            req("version", Str),
            req("extension_types", ClosedList(vocab::EXTENSION_TYPE)),
            opt("extension_properties", StrList),
        ],
        extensions: &[],
    },
    sco_ext(
        "file",
        &[
            opt("hashes", Hashes),
            opt("size", IntRange(0, i64::MAX)),
            opt("name", Str),
            opt("name_enc", Str),
            opt("magic_number_hex", Hex),
            opt("mime_type", Str),
            opt("ctime", Timestamp),
            opt("mtime", Timestamp),
            opt("atime", Timestamp),
            opt("parent_directory_ref", Ref(Only(&["directory"]))),
            opt("contains_refs", RefList(Targets::Sco)),
            opt("content_ref", Ref(ARTIFACT)),
        ],
        FILE_EXTENSIONS,
    ),
    sdo(
        "grouping",
        &[
            opt("name", Str),
            opt("description", Str),
            req("context", Open(&vocab::GROUPING_CONTEXT)),
            req("object_refs", RefList(Targets::Any)),
        ],
    ),
    sdo(
        "identity",
        &[
            req("name", Str),
            opt("description", Str),
            opt("roles", StrList),
            opt("identity_class", Open(&vocab::IDENTITY_CLASS)),
            opt("sectors", OpenList(&vocab::INDUSTRY_SECTOR)),
            opt("contact_information", Str),
        ],
    ),
    sdo(
        "incident",
        &[
            req("name", Str),
            opt("description", Str),
            opt("kill_chain_phases", KillChainPhases),
        ],
    ),
    sdo(
        "indicator",
        &[
            opt("name", Str),
            opt("description", Str),
            opt("indicator_types", OpenList(&vocab::INDICATOR_TYPE)),
            req("pattern", Str),
            req("pattern_type", Open(&vocab::PATTERN_TYPE)),
            opt("pattern_version", Str),
            req("valid_from", Timestamp),
            opt("valid_until", Timestamp),
            opt("kill_chain_phases", KillChainPhases),
        ],
    ),
    sdo(
        "infrastructure",
        &[
            req("name", Str),
            opt("description", Str),
            opt(
                "infrastructure_types",
                OpenList(&vocab::INFRASTRUCTURE_TYPE),
            ),
            opt("aliases", StrList),
            opt("kill_chain_phases", KillChainPhases),
            opt("first_seen", Timestamp),
            opt("last_seen", Timestamp),
        ],
    ),
    sdo(
        "intrusion-set",
        &[
            req("name", Str),
            opt("description", Str),
            opt("aliases", StrList),
            opt("first_seen", Timestamp),
            opt("last_seen", Timestamp),
            opt("goals", StrList),
            opt("resource_level", Open(&vocab::ATTACK_RESOURCE_LEVEL)),
            opt("primary_motivation", Open(&vocab::ATTACK_MOTIVATION)),
            opt("secondary_motivations", OpenList(&vocab::ATTACK_MOTIVATION)),
        ],
    ),
    sco(
        "ipv4-addr",
        &[
            req("value", Str),
            opt("resolves_to_refs", RefList(Only(&["mac-addr"]))),
            opt("belongs_to_refs", RefList(Only(&["autonomous-system"]))),
        ],
    ),
    sco(
        "ipv6-addr",
        &[
            req("value", Str),
            opt("resolves_to_refs", RefList(Only(&["mac-addr"]))),
            opt("belongs_to_refs", RefList(Only(&["autonomous-system"]))),
        ],
    ),
    TypeSpec {
        name: "language-content",
        family: Family::Meta,
        props: &[
            req("object_ref", Ref(Targets::Any)),
            opt("object_modified", TimestampMillis),
            req("contents", Dict),
        ],
        extensions: &[],
    },
    sdo(
        "location",
        &[
            opt("name", Str),
            opt("description", Str),
            opt("latitude", NumRange(-90.0, 90.0)),
            opt("longitude", NumRange(-180.0, 180.0)),
            opt("precision", NumRange(0.0, f64::MAX)),
            opt("region", Open(&vocab::REGION)),
            opt("country", Str),
            opt("administrative_area", Str),
            opt("city", Str),
            opt("street_address", Str),
            opt("postal_code", Str),
        ],
    ),
    sco("mac-addr", &[req("value", Str)]),
    sdo(
        "malware",
        &[
            opt("name", Str),
            opt("description", Str),
            opt("malware_types", OpenList(&vocab::MALWARE_TYPE)),
            req("is_family", Bool),
            opt("aliases", StrList),
            opt("kill_chain_phases", KillChainPhases),
            opt("first_seen", Timestamp),
            opt("last_seen", Timestamp),
            opt("operating_system_refs", RefList(SOFTWARE)),
            opt(
                "architecture_execution_envs",
                OpenList(&vocab::PROCESSOR_ARCHITECTURE),
            ),
            opt(
                "implementation_languages",
                OpenList(&vocab::IMPLEMENTATION_LANGUAGE),
            ),
            opt("capabilities", OpenList(&vocab::MALWARE_CAPABILITIES)),
            opt("sample_refs", RefList(Only(&["file", "artifact"]))),
        ],
    ),
    sdo(
        "malware-analysis",
        &[
            req("product", Str),
            opt("version", Str),
            opt("host_vm_ref", Ref(SOFTWARE)),
            opt("operating_system_ref", Ref(SOFTWARE)),
            opt("installed_software_refs", RefList(SOFTWARE)),
            opt("configuration_version", Str),
            opt("modules", StrList),
            opt("analysis_engine_version", Str),
            opt("analysis_definition_version", Str),
            opt("submitted", Timestamp),
            opt("analysis_started", Timestamp),
            opt("analysis_ended", Timestamp),
            opt("result_name", Str),
            opt("result", Open(&vocab::MALWARE_RESULT)),
            opt("analysis_sco_refs", RefList(Targets::Sco)),
            opt(
                "sample_ref",
                Ref(Only(&["file", "artifact", "network-traffic"])),
            ),
        ],
    ),
    TypeSpec {
        name: "marking-definition",
        family: Family::Meta,
        props: &[
            opt("name", Str),
            opt("definition_type", Str),
            opt("definition", Any),
        ],
        extensions: &[],
    },
    sco("mutex", &[req("name", Str)]),
    sco_ext(
        "network-traffic",
        &[
            opt("start", Timestamp),
            opt("end", Timestamp),
            opt("is_active", Bool),
            opt(
                "src_ref",
                Ref(Only(&["ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"])),
            ),
            opt(
                "dst_ref",
                Ref(Only(&["ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"])),
            ),
            opt("src_port", IntRange(0, 65535)),
            opt("dst_port", IntRange(0, 65535)),
            req("protocols", StrList),
            opt("src_byte_count", IntRange(0, i64::MAX)),
            opt("dst_byte_count", IntRange(0, i64::MAX)),
            opt("src_packets", IntRange(0, i64::MAX)),
            opt("dst_packets", IntRange(0, i64::MAX)),
            opt("ipfix", Dict),
            opt("src_payload_ref", Ref(ARTIFACT)),
            opt("dst_payload_ref", Ref(ARTIFACT)),
            opt("encapsulates_refs", RefList(NETWORK_TRAFFIC)),
            opt("encapsulated_by_ref", Ref(NETWORK_TRAFFIC)),
        ],
        NETWORK_TRAFFIC_EXTENSIONS,
    ),
    sdo(
        "note",
        &[
            opt("abstract", Str),
            req("content", Str),
            opt("authors", StrList),
            req("object_refs", RefList(Targets::Any)),
        ],
    ),
    sdo(
        "observed-data",
        &[
            req("first_observed", Timestamp),
            req("last_observed", Timestamp),
            req("number_observed", IntRange(1, 999_999_999)),
            opt("objects", Any),
            opt("object_refs", RefList(ScoOrSro)),
        ],
    ),
    sdo(
        "opinion",
        &[
            opt("explanation", Str),
            opt("authors", StrList),
            req("opinion", Closed(vocab::OPINION)),
            req("object_refs", RefList(Targets::Any)),
        ],
    ),
    sco_ext(
        "process",
        &[
            opt("is_hidden", Bool),
            opt("pid", Int),
            opt("created_time", Timestamp),
            opt("cwd", Str),
            opt("command_line", Str),
            opt("environment_variables", Dict),
            opt("opened_connection_refs", RefList(NETWORK_TRAFFIC)),
            opt("creator_user_ref", Ref(USER_ACCOUNT)),
            opt("image_ref", Ref(FILE)),
            opt("parent_ref", Ref(PROCESS)),
            opt("child_refs", RefList(PROCESS)),
        ],
        PROCESS_EXTENSIONS,
    ),
    TypeSpec {
        name: "relationship",
        family: Family::Sro,
        props: &[
            req("relationship_type", Str),
            opt("description", Str),
            req("source_ref", Ref(Targets::RelationshipEnd)),
            req("target_ref", Ref(Targets::RelationshipEnd)),
            opt("start_time", Timestamp),
            opt("stop_time", Timestamp),
        ],
        extensions: &[],
    },
    sdo(
        "report",
        &[
            req("name", Str),
            opt("description", Str),
            opt("report_types", OpenList(&vocab::REPORT_TYPE)),
            req("published", Timestamp),
            req("object_refs", RefList(Targets::Any)),
        ],
    ),
    TypeSpec {
        name: "sighting",
        family: Family::Sro,
        props: &[
            opt("description", Str),
            opt("first_seen", Timestamp),
            opt("last_seen", Timestamp),
            opt("count", IntRange(0, 999_999_999)),
            req("sighting_of_ref", Ref(Targets::SdoOrCustom)),
            opt("observed_data_refs", RefList(Only(&["observed-data"]))),
            opt(
                "where_sighted_refs",
                RefList(Only(&["identity", "location"])),
            ),
            opt("summary", Bool),
        ],
        extensions: &[],
    },
    sco(
        "software",
        &[
            req("name", Str),
            opt("cpe", Str),
            opt("swid", Str),
            opt("languages", StrList),
            opt("vendor", Str),
            opt("version", Str),
        ],
    ),
    sdo(
        "threat-actor",
        &[
            req("name", Str),
            opt("description", Str),
            opt("threat_actor_types", OpenList(&vocab::THREAT_ACTOR_TYPE)),
            opt("aliases", StrList),
            opt("first_seen", Timestamp),
            opt("last_seen", Timestamp),
            opt("roles", OpenList(&vocab::THREAT_ACTOR_ROLE)),
            opt("goals", StrList),
            opt("sophistication", Open(&vocab::THREAT_ACTOR_SOPHISTICATION)),
            opt("resource_level", Open(&vocab::ATTACK_RESOURCE_LEVEL)),
            opt("primary_motivation", Open(&vocab::ATTACK_MOTIVATION)),
            opt("secondary_motivations", OpenList(&vocab::ATTACK_MOTIVATION)),
            opt("personal_motivations", OpenList(&vocab::ATTACK_MOTIVATION)),
        ],
    ),
    sdo(
        "tool",
        &[
            req("name", Str),
            opt("description", Str),
            opt("tool_types", OpenList(&vocab::TOOL_TYPE)),
            opt("aliases", StrList),
            opt("kill_chain_phases", KillChainPhases),
            opt("tool_version", Str),
        ],
    ),
    sco("url", &[req("value", Url)]),
    sco_ext(
        "user-account",
        &[
            opt("user_id", Str),
            opt("credential", Str),
            opt("account_login", Str),
            opt("account_type", Open(&vocab::ACCOUNT_TYPE)),
            opt("display_name", Str),
            opt("is_service_account", Bool),
            opt("is_privileged", Bool),
            opt("can_escalate_privs", Bool),
            opt("is_disabled", Bool),
            opt("account_created", Timestamp),
            opt("account_expires", Timestamp),
            opt("credential_last_changed", Timestamp),
            opt("account_first_login", Timestamp),
            opt("account_last_login", Timestamp),
        ],
        USER_ACCOUNT_EXTENSIONS,
    ),
    sdo(
        "vulnerability",
        &[req("name", Str), opt("description", Str)],
    ),
    sco(
        "windows-registry-key",
        &[
            opt("key", Str),
            opt("values", ObjectList(REGISTRY_VALUE)),
            opt("modified_time", Timestamp),
            opt("creator_user_ref", Ref(USER_ACCOUNT)),
            opt("number_of_subkeys", IntRange(0, i64::MAX)),
        ],
    ),
    sco(
        "x509-certificate",
        &[
            opt("is_self_signed", Bool),
            opt("hashes", Hashes),
            opt("version", Str),
            opt("serial_number", Str),
            opt("signature_algorithm", Str),
            opt("issuer", Str),
            opt("validity_not_before", Timestamp),
            opt("validity_not_after", Timestamp),
            opt("subject", Str),
            opt("subject_public_key_algorithm", Str),
            opt("subject_public_key_modulus", Str),
            opt("subject_public_key_exponent", Int),
            opt("x509_v3_extensions", Object(X509_V3_EXTENSIONS)),
        ],
    ),
];

pub(crate) fn lookup(type_name: &str) -> Option<&'static TypeSpec> {
    TYPES
        .binary_search_by(|spec| spec.name.cmp(type_name))
        .ok()
        .and_then(|index| TYPES.get(index))
}

pub(crate) fn family_of(type_name: &str) -> Option<Family> {
    lookup(type_name).map(|spec| spec.family)
}

/// The properties common to the family, checked before the type's own.
pub(crate) fn common_props(family: Family, type_name: &str) -> &'static [Prop] {
    match family {
        Family::Sco => SCO_COMMON,
        Family::Meta if type_name == "marking-definition" => MARKING_COMMON,
        _ => SDO_COMMON,
    }
}

pub(crate) fn find_prop<'a>(props: &'a [Prop], name: &str) -> Option<&'a Prop> {
    props.iter().find(|prop| prop.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_so_binary_search_finds_every_type() {
        for pair in TYPES.windows(2) {
            if let [a, b] = pair {
                assert!(a.name < b.name, "{} before {}", a.name, b.name);
            }
        }
        assert_eq!(TYPES.len(), 19 + 2 + 18 + 3);
        for spec in TYPES {
            assert!(lookup(spec.name).is_some());
        }
    }
}
