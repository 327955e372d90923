/* The header's inline function is the whole shim; SwiftPM needs one source file per C target. */
#include "twin_prefetch.h"
