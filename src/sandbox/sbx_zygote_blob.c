/* The zygote shared object (src/sandbox/zygote/), built by the Makefile and embedded here byte for byte: the pool
 * writes it to a memfd that each worker loads (src/sandbox/sbx_launch.c, worker_stub.py). */
#include "sandbox/sbx_internal.h"

#ifndef SBX_ZYGOTE_SO
#error "SBX_ZYGOTE_SO (the path of the built zygote) is set by the Makefile"
#endif

__asm__(".section .rodata\n"
        ".balign 64\n"
        ".globl sbx_zygote_so\n"
        "sbx_zygote_so:\n"
        ".incbin \"" SBX_ZYGOTE_SO "\"\n"
        ".globl sbx_zygote_so_end\n"
        "sbx_zygote_so_end:\n"
        ".byte 0\n"
        ".previous\n");
