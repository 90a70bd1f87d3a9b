#include "coro.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "xalloc.h"

#if defined(__SANITIZE_ADDRESS__)
#define CORO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORO_ASAN 1
#endif
#endif

#ifdef CORO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CORO_VALGRIND 1
#endif
#endif

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

#define CANARY UINT64_C(0xC1CADA57AC4C0DE5)

/* A stack mapping: [guard page][usable stack ... struct stack at the very top]. */
struct stack {
    struct stack *next;     /* free list */
    void *map;              /* mmap base (the guard page) */
    size_t map_len;
    char *lo;               /* lowest usable byte (the canary lives here) */
    size_t size;            /* usable bytes below the struct */
    unsigned vg_id;
    /* A guard page lies below lo. Such a stack has no canary: writing it would make the
     * bottom page resident, doubling what a task's stack costs (a task uses less than a
     * page), and an overflow faults on the guard page before a switch could see it. */
    bool guarded;
};

struct coro {
    coro_fn fn;
    void *arg;
    const char *name;
    struct stack *stack;
    bool done;
#if defined(__x86_64__)
    void *sp;               /* saved stack pointer while suspended */
    void *caller_sp;
#else
    ucontext_t ctx, caller_ctx;
#endif
#ifdef CORO_ASAN
    void *fake_stack;
    const void *caller_bottom;
    size_t caller_size;
#endif
};

static struct {
    struct stack *free;
    size_t stack_size;
    size_t stacks, in_use, unguarded;
    size_t page;
    coro *current;
} pool = {NULL, CORO_DEFAULT_STACK, 0, 0, 0, 0, NULL};

/* ---- the switch ----------------------------------------------------------------------- */

#if defined(__x86_64__)
/* void cicada_coro_switch(void **save_sp, void *load_sp): pushes the callee-saved registers
 * and the SSE/x87 control words, stores rsp, loads the other stack, pops, returns there. */
void cicada_coro_switch(void **save_sp, void *load_sp);
void cicada_coro_boot(void);
__asm__(
    ".text\n"
    ".globl cicada_coro_switch\n"
    ".hidden cicada_coro_switch\n"
    ".type cicada_coro_switch,@function\n"
    "cicada_coro_switch:\n"
    "    pushq %rbp\n"
    "    pushq %rbx\n"
    "    pushq %r12\n"
    "    pushq %r13\n"
    "    pushq %r14\n"
    "    pushq %r15\n"
    "    subq $8, %rsp\n"
    "    stmxcsr (%rsp)\n"
    "    fnstcw 4(%rsp)\n"
    "    movq %rsp, (%rdi)\n"
    "    movq %rsi, %rsp\n"
    "    ldmxcsr (%rsp)\n"
    "    fldcw 4(%rsp)\n"
    "    addq $8, %rsp\n"
    "    popq %r15\n"
    "    popq %r14\n"
    "    popq %r13\n"
    "    popq %r12\n"
    "    popq %rbx\n"
    "    popq %rbp\n"
    "    ret\n"
    ".size cicada_coro_switch,.-cicada_coro_switch\n"
    /* First entry of a coroutine: r12 = the coro, r13 = coro_main. rsp is 16-aligned here,
     * so the call leaves the callee with the ABI's alignment. coro_main never returns. */
    ".globl cicada_coro_boot\n"
    ".hidden cicada_coro_boot\n"
    ".type cicada_coro_boot,@function\n"
    "cicada_coro_boot:\n"
    "    .cfi_startproc\n"
    "    .cfi_undefined rip\n"
    "    movq %r12, %rdi\n"
    "    callq *%r13\n"
    "    ud2\n"
    "    .cfi_endproc\n"
    ".size cicada_coro_boot,.-cicada_coro_boot\n");
#endif

static void check_canary(const coro *c)
{
    if (!c->stack->guarded && *(const uint64_t *)c->stack->lo != CANARY) {
        fprintf(stderr, "cicada: stack overflow in %s (stack of %zu bytes)\n",
                c->name ? c->name : "a task", c->stack->size);
        abort();
    }
}

/* ---- stacks --------------------------------------------------------------------------- */

static struct stack *stack_get(void)
{
    struct stack *s = pool.free;
    if (s) {
        pool.free = s->next;
        pool.in_use++;
        return s;
    }
    if (!pool.page)
        pool.page = (size_t)sysconf(_SC_PAGESIZE);
    size_t page = pool.page;
    size_t usable = (pool.stack_size + page - 1) / page * page;
    size_t len = usable + page; /* + guard */
    void *map = mmap(NULL, len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED)
        xoom();
    /* A guard page splits the mapping in two, and the kernel caps mappings per process
     * (vm.max_map_count, 65530 by default): past that, stacks rely on the canary alone. */
    bool guarded = mprotect(map, page, PROT_NONE) == 0;
    if (!guarded)
        pool.unguarded++;
    s = (struct stack *)((char *)map + len - sizeof *s);
    s->guarded = guarded;
    s->map = map;
    s->map_len = len;
    s->lo = (char *)map + page;
    s->size = (size_t)((char *)s - s->lo);
#ifdef CORO_VALGRIND
    s->vg_id = VALGRIND_STACK_REGISTER(s->lo, (char *)s);
#endif
    pool.stacks++;
    pool.in_use++;
    return s;
}

static void stack_unmap(struct stack *s)
{
#ifdef CORO_VALGRIND
    VALGRIND_STACK_DEREGISTER(s->vg_id);
#endif
    munmap(s->map, s->map_len);
    pool.stacks--;
}

static void stack_put(struct stack *s)
{
    pool.in_use--;
    if (s->map_len != (pool.stack_size + pool.page - 1) / pool.page * pool.page + pool.page) {
        stack_unmap(s);
        return;
    }
    s->next = pool.free;
    pool.free = s;
}

void coro_set_stack_size(size_t bytes)
{
    if (bytes < 16 * 1024)
        bytes = 16 * 1024;
    pool.stack_size = bytes;
    coro_pool_release();
}

void coro_pool_release(void)
{
    while (pool.free) {
        struct stack *s = pool.free;
        pool.free = s->next;
        stack_unmap(s);
    }
}

void coro_stats(struct coro_stats *out)
{
    if (!pool.page)
        pool.page = (size_t)sysconf(_SC_PAGESIZE);
    out->stacks = pool.stacks;
    out->in_use = pool.in_use;
    out->stack_bytes = (pool.stack_size + pool.page - 1) / pool.page * pool.page;
    out->unguarded = pool.unguarded;
}

/* ---- coroutines ----------------------------------------------------------------------- */

static void coro_free(coro *c)
{
    stack_put(c->stack);
}

static void switch_in(coro *c);
static void switch_out(coro *c, bool final);

static void coro_main(coro *c)
{
#ifdef CORO_ASAN
    __sanitizer_finish_switch_fiber(NULL, &c->caller_bottom, &c->caller_size);
#endif
    c->fn(c->arg);
    c->done = true;
    switch_out(c, true);
}

#if !defined(__x86_64__)
static void coro_main_uc(unsigned hi, unsigned lo)
{
    coro_main((coro *)(((uintptr_t)hi << 32) | (uintptr_t)lo));
}
#endif

#ifndef CORO_ASAN
/* A task that runs off the bottom of its stack hits the guard page: say which task, on a
 * stack of our own (the faulting one is full), then let the default action end the
 * process. Without this the report would be a bare "Segmentation fault". */
static char alt_stack[64 * 1024];

static void put(const char *s)
{
    ssize_t r = write(2, s, strlen(s));
    (void)r;
}

static void segv_handler(int sig, siginfo_t *si, void *uctx)
{
    (void)uctx;
    const coro *c = pool.current;
    const char *addr = si->si_addr;
    /* A frame bigger than the guard page can land below it: count a miss just under the
     * mapping as the same overflow. */
    if (c && addr < c->stack->lo + pool.page &&
        addr + (1u << 20) >= (const char *)c->stack->map) {
        /* snprintf is not safe in a signal handler: digits by hand. */
        char size[24], *p = size + sizeof size - 1;
        *p = '\0';
        size_t n = c->stack->size;
        do
            *--p = (char)('0' + n % 10);
        while (n /= 10);
        put("cicada: stack overflow in ");
        put(c->name ? c->name : "a task");
        put(" (stack of ");
        put(p);
        put(" bytes): keep large buffers off the task's stack (cicada_context, malloc)\n");
    }
    signal(sig, SIG_DFL);  /* returning re-runs the access: the default action ends us */
}

static void guard_handler_install(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    stack_t ss = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = segv_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaltstack(&ss, NULL) == 0)
        sigaction(SIGSEGV, &sa, NULL);
}
#endif

coro *coro_new(coro_fn fn, void *arg, const char *name)
{
#ifndef CORO_ASAN
    guard_handler_install();
#endif
    struct stack *s = stack_get();
#ifdef CORO_ASAN
    /* A reused stack still carries the poisoned redzones of its last user's frames. */
    ASAN_UNPOISON_MEMORY_REGION(s->lo, s->size);
#endif
    /* The coroutine lives at the top of its own stack: starting a task allocates
     * nothing. */
    uintptr_t at = ((uintptr_t)s - sizeof(coro)) & ~(uintptr_t)63;
    coro *c = (coro *)at;
    memset(c, 0, sizeof *c);
    c->fn = fn;
    c->arg = arg;
    c->name = name;
    c->stack = s;
    if (!s->guarded)
        *(uint64_t *)s->lo = CANARY;
#if defined(__x86_64__)
    uintptr_t top = at & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)(top - 64);
    uint32_t ctl[2] = {0x1F80, 0x037F};     /* default MXCSR and x87 control word */
    memcpy(&sp[0], ctl, sizeof ctl);
    sp[1] = 0;                              /* r15 */
    sp[2] = 0;                              /* r14 */
    sp[3] = (uint64_t)(uintptr_t)coro_main; /* r13 */
    sp[4] = (uint64_t)(uintptr_t)c;         /* r12 */
    sp[5] = 0;                              /* rbx */
    sp[6] = 0;                              /* rbp */
    sp[7] = (uint64_t)(uintptr_t)cicada_coro_boot;
    c->sp = sp;
#else
    getcontext(&c->ctx);
    c->ctx.uc_stack.ss_sp = s->lo + sizeof(uint64_t);
    c->ctx.uc_stack.ss_size = (size_t)((char *)c - s->lo) - sizeof(uint64_t);
    c->ctx.uc_link = NULL;
    uintptr_t p = (uintptr_t)c;
    makecontext(&c->ctx, (void (*)(void))coro_main_uc, 2, (unsigned)(p >> 32),
                (unsigned)(p & 0xffffffffu));
#endif
    return c;
}

static void switch_in(coro *c)
{
#ifdef CORO_ASAN
    void *fake = NULL;
    __sanitizer_start_switch_fiber(&fake, c->stack->lo, c->stack->size);
#endif
#if defined(__x86_64__)
    cicada_coro_switch(&c->caller_sp, c->sp);
#else
    swapcontext(&c->caller_ctx, &c->ctx);
#endif
#ifdef CORO_ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
}

static void switch_out(coro *c, bool final)
{
    check_canary(c);
#ifdef CORO_ASAN
    __sanitizer_start_switch_fiber(final ? NULL : &c->fake_stack, c->caller_bottom,
                                   c->caller_size);
#else
    (void)final;
#endif
#if defined(__x86_64__)
    cicada_coro_switch(&c->sp, c->caller_sp);
#else
    swapcontext(&c->ctx, &c->caller_ctx);
#endif
#ifdef CORO_ASAN
    __sanitizer_finish_switch_fiber(c->fake_stack, &c->caller_bottom, &c->caller_size);
#endif
}

bool coro_resume(coro *c)
{
    if (pool.current) {
        fprintf(stderr, "cicada: coro_resume called from inside a coroutine\n");
        abort();
    }
    pool.current = c;
    switch_in(c);
    pool.current = NULL;
    if (c->done) {
        coro_free(c);
        return true;
    }
    return false;
}

void coro_yield(void)
{
    coro *c = pool.current;
    if (!c) {
        fprintf(stderr, "cicada: coro_yield called outside a coroutine\n");
        abort();
    }
    switch_out(c, false);
}

coro *coro_current(void)
{
    return pool.current;
}

void coro_discard(coro *c)
{
    coro_free(c);
}
