/* cicada's version ("git describe" of the build, or the release number). Defined in a
 * file the build regenerates when the version changes, so every object agrees on it. */
#ifndef CICADA_VERSION_H
#define CICADA_VERSION_H

extern const char cicada_version[];

#endif
