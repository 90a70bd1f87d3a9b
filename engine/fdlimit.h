/* The open-file limit against the users a process runs: each user holds a socket (two
 * while reconnecting), so a limit below the user count makes connects fail with EMFILE.
 * Locust raises the soft limit silently; cicada raises it too and says so when the raise
 * is what makes room, and warns when even the hard limit is too low. */
#ifndef CICADA_FDLIMIT_H
#define CICADA_FDLIMIT_H

/* Descriptors a process needs besides its users' sockets: the loop, the dashboard and
 * its clients, the master's socket, output files, libcurl's own. */
#define FDLIMIT_RESERVE 64

/* Raises the soft RLIMIT_NOFILE to the hard limit, once per process, and remembers the
 * soft limit it found. Cheap to call again. */
void fdlimit_raise(void);

/* Before `users` users run in this process: logs that the limit was raised for them, or
 * a warning with advice when the hard limit is too low; each once per process. */
void fdlimit_check(unsigned users);

#endif
