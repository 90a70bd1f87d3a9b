/* A shop flow with logic a scenario file cannot say: log in, look at the catalogue, and
 * put in the cart only products that cost less than the user's budget, which shrinks
 * with every purchase; a user out of money logs out and starts over.
 *
 * Against the built-in demo target:
 *     cicada --demo-target 8080 &
 *     cicada -f examples/flow.c --headless -u 20 -r 5 -t 30s */
#include <cicada.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct shopper {
    int budget;             /* cents */
    int bought;
};

static const char *const json_headers[] = {"Content-Type: application/json",
                                           "Accept: application/json", NULL};

static void login(cicada_user *u)
{
    struct shopper *s = cicada_context(u);
    s->budget = 5000 + (int)(cicada_user_index(u) % 10) * 1000;
    cicada_response r;
    static const char body[] = "{\"username\": \"demo\", \"password\": \"secret\"}";
    cicada_http(u, &(cicada_request){.method = "POST", .url = "/api/login",
                                     .headers = json_headers, .body = body,
                                     .body_len = sizeof body - 1}, &r);
}

/* Finds the first "price": N in the product list below the budget; returns its id. */
static int affordable(const char *body, int budget)
{
    for (const char *p = body; (p = strstr(p, "\"id\":")); p++) {
        int id = atoi(p + 5);
        const char *price = strstr(p, "\"price\":");
        if (price && (int)(atof(price + 8) * 100) <= budget)
            return id;
    }
    return -1;
}

static void shop(cicada_user *u)
{
    struct shopper *s = cicada_context(u);
    cicada_response r;
    if (cicada_http(u, &(cicada_request){.url = "/api/products"}, &r) != CICADA_OK || r.error)
        return;
    int id = affordable(r.body, s->budget);
    if (id < 0) {
        /* Out of money: log out, and come back with a new budget. */
        cicada_http(u, &(cicada_request){.method = "POST", .url = "/api/logout"}, &r);
        login(u);
        return;
    }
    char body[128];
    int n = snprintf(body, sizeof body, "{\"product_id\": %d, \"quantity\": 1}", id);
    cicada_http(u, &(cicada_request){.method = "POST", .url = "/api/cart",
                                     .headers = json_headers, .body = body,
                                     .body_len = (size_t)n, .manual = 1}, &r);
    /* As Locust's catch_response: the answer decides, not only the status. */
    if (r.status == 200 && strstr(r.body, "\"items\""))
        cicada_success(u);
    else
        cicada_failure(u, r.error ? r.error : "the cart did not take the product");
    s->budget -= 1500;
    s->bought++;
}

static const cicada_task tasks[] = {{.name = "shop", .weight = 1, .fn = shop}};

static int setup(cicada_registry *reg)
{
    return cicada_add_class(reg, &(cicada_class){
        .name = "Shopper", .weight = 1, .host = "http://127.0.0.1:8080",
        .wait = CICADA_WAIT_BETWEEN, .wait_a = 0.5, .wait_b = 1.5,
        .on_start = login, .tasks = tasks, .ntasks = 1,
        .context_size = sizeof(struct shopper)});
}
CICADA_PLUGIN(setup)
