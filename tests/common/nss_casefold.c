/*
 * A tiny NSS module for tests: the passwd entries of the file named by
 * TWOSTEP_NSS_PASSWD, looked up the way case-insensitive directories (SSSD,
 * winbind) do: "ALICE" and "alice@<TWOSTEP_NSS_REALM>" both find the entry
 * "alice", and the answer carries the canonical name as written in the file.
 * With TWOSTEP_NSS_FAIL set, every name lookup fails (directory offline).
 *
 * Loaded by nss_wrapper (NSS_WRAPPER_MODULE_SO_PATH, prefix "twostepci"), so
 * the code under test makes real getpwnam_r calls through glibc's interface.
 * Groups come from nss_wrapper's own NSS_WRAPPER_GROUP file.
 */
#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

/* Is the typed name a spelling of the entry name? */
static int same_account(const char *typed, const char *entry) {
    if (strcasecmp(typed, entry) == 0)
        return 1;
    const char *realm = getenv("TWOSTEP_NSS_REALM");
    const char *at = strchr(typed, '@');
    if (realm == NULL || at == NULL)
        return 0;
    size_t n = (size_t)(at - typed);
    return strlen(entry) == n && strncasecmp(typed, entry, n) == 0 && strcasecmp(at + 1, realm) == 0;
}

/* Finds the first line for which match(fields) is true and fills *pw from it. */
static enum nss_status lookup(const char *name, uid_t uid, struct passwd *pw, char *buf, size_t buflen,
                              int *errnop) {
    if (getenv("TWOSTEP_NSS_FAIL") != NULL) {
        *errnop = EIO;
        return NSS_STATUS_UNAVAIL;
    }
    const char *path = getenv("TWOSTEP_NSS_PASSWD");
    FILE *f = path ? fopen(path, "re") : NULL;
    if (f == NULL) {
        *errnop = ENOENT;
        return NSS_STATUS_NOTFOUND;
    }
    char line[1024];
    enum nss_status status = NSS_STATUS_NOTFOUND;
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *field[7];
        char *p = line;
        int n = 0;
        for (; n < 7 && p != NULL; n++) {
            field[n] = p;
            p = strchr(p, ':');
            if (p != NULL)
                *p++ = '\0';
        }
        if (n != 7)
            continue;
        uid_t entry_uid = (uid_t)strtoul(field[2], NULL, 10);
        if (name != NULL ? !same_account(name, field[0]) : entry_uid != uid)
            continue;
        size_t need = 0;
        for (int i = 0; i < 7; i++)
            need += strlen(field[i]) + 1;
        if (need > buflen) {
            *errnop = ERANGE;
            status = NSS_STATUS_TRYAGAIN;
            break;
        }
        char *out[7];
        for (int i = 0; i < 7; i++) {
            out[i] = buf;
            buf = stpcpy(buf, field[i]) + 1;
        }
        pw->pw_name = out[0];
        pw->pw_passwd = out[1];
        pw->pw_uid = entry_uid;
        pw->pw_gid = (gid_t)strtoul(field[3], NULL, 10);
        pw->pw_gecos = out[4];
        pw->pw_dir = out[5];
        pw->pw_shell = out[6];
        status = NSS_STATUS_SUCCESS;
        break;
    }
    fclose(f);
    return status;
}

enum nss_status _nss_twostepci_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t buflen,
                                          int *errnop) {
    return lookup(name, 0, pw, buf, buflen, errnop);
}

enum nss_status _nss_twostepci_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t buflen, int *errnop) {
    return lookup(NULL, uid, pw, buf, buflen, errnop);
}

enum nss_status _nss_twostepci_setpwent(void) { return NSS_STATUS_SUCCESS; }
enum nss_status _nss_twostepci_endpwent(void) { return NSS_STATUS_SUCCESS; }
enum nss_status _nss_twostepci_getpwent_r(struct passwd *pw, char *buf, size_t buflen, int *errnop) {
    (void)pw, (void)buf, (void)buflen;
    *errnop = ENOENT;
    return NSS_STATUS_NOTFOUND;
}

/* No groups here: nss_wrapper's NSS_WRAPPER_GROUP file answers those. */
enum nss_status _nss_twostepci_getgrnam_r(const char *name, struct group *gr, char *buf, size_t buflen,
                                          int *errnop) {
    (void)name, (void)gr, (void)buf, (void)buflen;
    *errnop = ENOENT;
    return NSS_STATUS_NOTFOUND;
}
enum nss_status _nss_twostepci_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t buflen, int *errnop) {
    (void)gid, (void)gr, (void)buf, (void)buflen;
    *errnop = ENOENT;
    return NSS_STATUS_NOTFOUND;
}
enum nss_status _nss_twostepci_setgrent(void) { return NSS_STATUS_SUCCESS; }
enum nss_status _nss_twostepci_endgrent(void) { return NSS_STATUS_SUCCESS; }
enum nss_status _nss_twostepci_getgrent_r(struct group *gr, char *buf, size_t buflen, int *errnop) {
    (void)gr, (void)buf, (void)buflen;
    *errnop = ENOENT;
    return NSS_STATUS_NOTFOUND;
}
enum nss_status _nss_twostepci_initgroups_dyn(const char *user, gid_t group, long int *start, long int *size,
                                              gid_t **groups, long int limit, int *errnop) {
    (void)user, (void)group, (void)start, (void)size, (void)groups, (void)limit;
    *errnop = ENOENT;
    return NSS_STATUS_NOTFOUND;
}
