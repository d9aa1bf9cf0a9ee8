/* pamloop: the benchmark's PAM application (bench/run builds and runs it).
 *
 * Runs COUNT logins in one process, each pam_start_confdir + pam_authenticate
 * + pam_end on the service file in CONFDIR (never /etc/pam.d), and answers
 * every prompt with the code of the current 30-second step (+OFFSET) taken
 * from a table bench/run computed (CODES: lines "STEP CODE"), or with a fixed
 * ANSWER. The user of login i is PREFIX followed by FIRST+i (six digits), or
 * USER for every login. Each login's pam_authenticate result must be EXPECT
 * (a PAM return code number) after exactly PROMPTS prompts (--prompts, default
 * 1), or pamloop stops with exit 1: a benchmark whose logins do not do what
 * they claim (a user that is not enrolled is refused without a prompt) prints
 * nothing.
 *
 * Prints, on stdout: one line per login with the nanoseconds of the whole
 * start/authenticate/end cycle, then "maxrss_kib N": this process's peak RSS
 * after all logins (VmHWM; getrusage's ru_maxrss would report the peak of the
 * process image before exec, e.g. the Python that started us).
 *
 * With --procs P (and --user), forks P children that each start one login and
 * wait at a barrier; the parent releases them all at once and prints
 * "concurrent_ns N": the time from the release to the last child's exit.
 * Every child must get EXPECT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CODES 4096

static long code_step[MAX_CODES];
static char code_text[MAX_CODES][16];
static int n_codes;
static long offset;
static const char *fixed_answer;
static int prompts_seen;

static void die(const char *what) {
    fprintf(stderr, "pamloop: %s\n", what);
    exit(1);
}

static void load_codes(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) die("cannot open the codes file");
    while (n_codes < MAX_CODES && fscanf(f, "%ld %15s", &code_step[n_codes], code_text[n_codes]) == 2) n_codes++;
    fclose(f);
}

/* The code of the step that contains now, shifted by OFFSET steps. */
static const char *current_answer(void) {
    if (fixed_answer) return fixed_answer;
    long step = (long)(time(NULL) / 30) + offset;
    for (int i = 0; i < n_codes; i++)
        if (code_step[i] == step) return code_text[i];
    die("no code for the current step in the codes file (rerun bench/run)");
    return NULL;
}

static int converse(int n, const struct pam_message **msg, struct pam_response **resp, void *data) {
    (void)data;
    if (n <= 0) return PAM_CONV_ERR;
    struct pam_response *r = calloc((size_t)n, sizeof *r);
    if (!r) return PAM_BUF_ERR;
    for (int i = 0; i < n; i++) {
        if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
            prompts_seen++;
            r[i].resp = strdup(current_answer());
            if (!r[i].resp) {
                for (int j = 0; j < i; j++) free(r[j].resp);
                free(r);
                return PAM_BUF_ERR;
            }
        }
    }
    *resp = r;
    return PAM_SUCCESS;
}

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static const char *confdir, *service, *prefix = "u", *user;
static long first, count = 1, procs;
static int expect, prompts = 1;

static int login_once(const char *name) {
    struct pam_conv conv = {converse, NULL};
    pam_handle_t *h = NULL;
    prompts_seen = 0;
    int rc = pam_start_confdir(service, name, &conv, confdir, &h);
    if (rc != PAM_SUCCESS) die("pam_start_confdir failed");
    rc = pam_authenticate(h, 0);
    pam_end(h, rc);
    return rc;
}

/* One login; with codes by step (--codes), a login whose 30 s step ended
 * while it ran is tried once more: its code may have left the module's window
 * (an --offset -1 code is one step old when the next step begins). */
static int one_login(const char *name) {
    long step = (long)(time(NULL) / 30);
    int rc = login_once(name);
    if (rc != expect && !fixed_answer && n_codes > 0 && (long)(time(NULL) / 30) != step) rc = login_once(name);
    return rc;
}

static void check(int rc, const char *name) {
    if (prompts_seen != prompts) {
        fprintf(stderr, "pamloop: login of %s: %d prompts, expected %d\n", name, prompts_seen, prompts);
        exit(1);
    }
    if (rc != expect) {
        fprintf(stderr, "pamloop: login of %s: pam_authenticate returned %d (%s), expected %d\n", name, rc,
                pam_strerror(NULL, rc), expect);
        exit(1);
    }
}

static int concurrent(void) {
    int go[2], ready[2];
    if (pipe(go) || pipe(ready)) die("pipe");
    pid_t *pids = calloc((size_t)procs, sizeof *pids);
    if (!pids) die("out of memory");
    for (long i = 0; i < procs; i++) {
        pid_t pid = fork();
        if (pid < 0) die("fork");
        if (pid == 0) {
            close(go[1]);
            close(ready[0]);
            struct pam_conv conv = {converse, NULL};
            pam_handle_t *h = NULL;
            if (pam_start_confdir(service, user, &conv, confdir, &h) != PAM_SUCCESS) _exit(100);
            char c = 'r';
            if (write(ready[1], &c, 1) != 1) _exit(101);
            if (read(go[0], &c, 1) != 0) _exit(102); /* EOF: the parent closed the barrier */
            prompts_seen = 0;
            int rc = pam_authenticate(h, 0);
            pam_end(h, rc);
            _exit(rc == expect && prompts_seen == prompts ? 0 : 103);
        }
        pids[i] = pid;
    }
    close(go[0]);
    close(ready[1]);
    for (long i = 0; i < procs; i++) {
        char c;
        if (read(ready[0], &c, 1) != 1) die("a child did not reach the barrier");
    }
    long long t0 = now_ns();
    close(go[1]); /* every child's read returns at once */
    int bad = 0;
    for (long i = 0; i < procs; i++) {
        int status;
        while (waitpid(pids[i], &status, 0) < 0)
            if (errno != EINTR) die("waitpid");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) bad++;
    }
    long long t1 = now_ns();
    if (bad) {
        fprintf(stderr, "pamloop: %d of %ld concurrent logins did not return %d\n", bad, procs, expect);
        return 1;
    }
    printf("concurrent_ns %lld\n", t1 - t0);
    return 0;
}

int main(int argc, char **argv) {
    const char *codes = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) die("usage: see the comment at the top of bench/pamloop.c");
        if (!strcmp(a, "--confdir")) confdir = v;
        else if (!strcmp(a, "--service")) service = v;
        else if (!strcmp(a, "--prefix")) prefix = v;
        else if (!strcmp(a, "--user")) user = v;
        else if (!strcmp(a, "--first")) first = atol(v);
        else if (!strcmp(a, "--count")) count = atol(v);
        else if (!strcmp(a, "--procs")) procs = atol(v);
        else if (!strcmp(a, "--codes")) codes = v;
        else if (!strcmp(a, "--offset")) offset = atol(v);
        else if (!strcmp(a, "--answer")) fixed_answer = v;
        else if (!strcmp(a, "--expect")) expect = atoi(v);
        else if (!strcmp(a, "--prompts")) prompts = atoi(v);
        else die("unknown option; see the comment at the top of bench/pamloop.c");
        i++;
    }
    if (!confdir || !service || (!codes && !fixed_answer)) die("--confdir, --service and --codes or --answer are needed");
    if (codes) load_codes(codes);
    if (procs > 0) {
        if (!user) die("--procs needs --user");
        return concurrent();
    }
    long long *ns = calloc((size_t)count, sizeof *ns);
    if (!ns) die("out of memory");
    char name[256];
    for (long i = 0; i < count; i++) {
        if (user) snprintf(name, sizeof name, "%s", user);
        else snprintf(name, sizeof name, "%s%06ld", prefix, first + i);
        long long t0 = now_ns();
        int rc = one_login(name);
        ns[i] = now_ns() - t0;
        check(rc, name);
    }
    for (long i = 0; i < count; i++) printf("%lld\n", ns[i]);
    long hwm = -1;
    FILE *st = fopen("/proc/self/status", "r");
    char line[256];
    while (st && fgets(line, sizeof line, st))
        if (sscanf(line, "VmHWM: %ld", &hwm) == 1) break;
    if (st) fclose(st);
    if (hwm < 0) die("no VmHWM in /proc/self/status");
    printf("maxrss_kib %ld\n", hwm);
    return 0;
}
