#ifndef TWIN_PREFETCH_H
#define TWIN_PREFETCH_H

/* A software prefetch into all cache levels (prefetcht0). Swift reaches no prefetch instruction (the intrinsics
   headers spell it as macros or builtins it does not import); this inline function compiles to one
   prefetcht0 where Swift calls it. */
static inline __attribute__((always_inline)) void twin_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

/* A software prefetch into L2 and below (prefetcht1): for data needed some microseconds later, without
   taking L1 fill buffers from the loads in flight. */
static inline __attribute__((always_inline)) void twin_prefetch_l2(const void *address) {
    __builtin_prefetch(address, 0, 2);
}

#endif
