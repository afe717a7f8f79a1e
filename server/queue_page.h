/* The waiting room's HTML pages (server/queue_page.c): GET /queue/{id}
 * (the waiting page) and GET /queue/{id}/seats (the seat page). Internal
 * to server/. */
#ifndef TICKETCTL_SERVER_QUEUE_PAGE_H
#define TICKETCTL_SERVER_QUEUE_PAGE_H

#include "internal.h"

/* Inline (R_INLINE | R_HTML) handlers: reply 200 with a self-contained
 * page (no external assets), or 503 when out of memory. */
void h_queue_page(tk_job *j, tk_worker *w);
void h_queue_seat_page(tk_job *j, tk_worker *w);

#endif
