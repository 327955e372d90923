#pragma once
// Debian builds libxml2 with ICU, whose headers then enter this module and clash with Foundation's
// own copy of ICU (_FoundationICU: "UErrorCode has different definitions") in any module that sees
// both. Twin never touches the ICU members of libxml2's encoding handler, so keep ICU out.
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED
#include <libxml/HTMLparser.h>
#include <libxml/HTMLtree.h>
#include <libxml/xpath.h>
