/* Stackful coroutines for user tasks.
 *
 * A user's task code reads top to bottom and suspends itself (coro_yield) while it waits
 * for the network or a timer; the loop resumes it (coro_resume) when the wait is over.
 * Stacks come from a pool and are held only while a coroutine exists: a user waiting
 * between tasks holds none, so 20,000 users with think time need only as many stacks as
 * are mid-task at once.
 *
 * On x86-64 a switch saves the callee-saved registers and the stack pointer (about 20
 * instructions, no system call); elsewhere it falls back to ucontext, which costs a
 * sigprocmask per switch. Switches are annotated for AddressSanitizer and valgrind.
 * Each stack has a guard page below it (while the kernel lets us map them: see
 * coro_stats; past that, a canary checked at every switch), so an overflow is caught
 * rather than silently corrupting memory.
 *
 * Single-threaded: all coroutines belong to the thread that runs the loop. */
#ifndef CICADA_CORO_H
#define CICADA_CORO_H

#include <stdbool.h>
#include <stddef.h>

typedef struct coro coro;
typedef void (*coro_fn)(void *arg);

#define CORO_DEFAULT_STACK (64 * 1024)

/* Sets the usable size of stacks created from now on (rounded up to whole pages, at least
 * 16 KiB). Pooled stacks of another size are released. */
void coro_set_stack_size(size_t bytes);

/* Creates a coroutine that will run fn(arg) on a pooled stack when first resumed. name is
 * borrowed (static or longer-lived than the coroutine) and used in overflow reports. The
 * coroutine is owned by whoever resumes it; it frees itself when fn returns. */
coro *coro_new(coro_fn fn, void *arg, const char *name);

/* Runs c until it yields or fn returns. Returns true when fn has returned: c is then freed
 * and its stack back in the pool. Must not be called from inside a coroutine. */
bool coro_resume(coro *c);

/* Suspends the running coroutine, returning control to its coro_resume caller. */
void coro_yield(void);

/* The running coroutine, or NULL on the loop's own stack. */
coro *coro_current(void);

/* Frees a coroutine that will never be resumed again (a user killed mid-task). Nothing on
 * its stack is unwound: task code that must release resources checks for cancellation
 * instead (the user API returns an error to a killed task). */
void coro_discard(coro *c);

/* Pool figures for diagnostics and the memory report. */
struct coro_stats {
    size_t stacks;          /* stacks mapped */
    size_t in_use;          /* held by live coroutines */
    size_t stack_bytes;     /* usable bytes per stack */
    size_t unguarded;       /* stacks mapped without a guard page (map count limit) */
};
void coro_stats(struct coro_stats *out);

/* Unmaps every pooled stack (at exit, so leak checkers see a clean process). */
void coro_pool_release(void);

#endif
