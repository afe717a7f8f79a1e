/* The component schemas of openapi.json: one row per request or response
 * body, named by the route table's req_schema/resp_schema columns
 * (routes.c). The bodies are JSON Schema as OpenAPI 3.0.3 takes it
 * (https://spec.openapis.org/oas/v3.0.3#schema-object), written as JSON
 * text through TK_JSON so that they read like the document they become.
 * Success bodies say additionalProperties: false, so a field the server
 * starts to send without a row here fails the contract test
 * (tests/itest_contract.c). Add a row with a new body; openapi.c and the
 * contract test pick it up. */
#include "internal.h"

/* The tokens of a JSON text as a C string literal: TK_JSON({"a": 1}). */
#define TK_JSON(...) #__VA_ARGS__

const tk_api_schema tk_api_schemas[] = {
    {"SignupRequest", TK_JSON({
         "type": "object",
         "required": ["email", "password", "name"],
         "properties": {
             "email": {"type": "string", "format": "email", "minLength": 3, "maxLength": 190},
             "password": {"type": "string", "minLength": 8, "maxLength": 128},
             "name": {"type": "string", "minLength": 1, "maxLength": 100}
         }
     })},
    {"LoginRequest", TK_JSON({
         "type": "object",
         "required": ["email", "password"],
         "properties": {
             "email": {"type": "string", "minLength": 1, "maxLength": 190},
             "password": {"type": "string", "minLength": 1, "maxLength": 128}
         }
     })},
    {"User", TK_JSON({
         "type": "object",
         "additionalProperties": false,
         "required": ["id", "email", "name", "points", "role"],
         "properties": {
             "id": {"type": "integer", "minimum": 1},
             "email": {"type": "string"},
             "name": {"type": "string"},
             "points": {"type": "integer", "minimum": 0, "description": "balance in KRW points"},
             "role": {"type": "string", "enum": ["USER", "ADMIN"]}
         }
     })},
    {"Token", TK_JSON({
         "type": "object",
         "additionalProperties": false,
         "required": ["token", "token_type", "expires_in"],
         "properties": {
             "token": {"type": "string", "description": "an HS256 JWT for Authorization: Bearer"},
             "token_type": {"type": "string", "enum": ["Bearer"]},
             "expires_in": {"type": "integer", "minimum": 1, "description": "lifetime in seconds"}
         }
     })},
    {"Balance", TK_JSON({
         "type": "object",
         "additionalProperties": false,
         "required": ["balance"],
         "properties": {"balance": {"type": "integer", "minimum": 0, "description": "KRW points"}}
     })},
    {"ChargeRequest", TK_JSON({
         "type": "object",
         "required": ["amount"],
         "properties": {"amount": {"type": "integer", "minimum": 1, "description": "KRW points to add"}}
     })},
    {"ChargeResult", TK_JSON({
         "type": "object",
         "additionalProperties": false,
         "required": ["balance", "history_id"],
         "properties": {
             "balance": {"type": "integer", "minimum": 0, "description": "KRW points after the charge"},
             "history_id": {"type": "integer", "minimum": 1}
         }
     })},
    {"PointHistoryPage", TK_JSON({
         "type": "object",
         "additionalProperties": false,
         "required": ["items", "page", "size", "total"],
         "properties": {
             "items": {"type": "array", "items": {
                 "type": "object",
                 "additionalProperties": false,
                 "required": ["id", "amount", "type", "balance_after", "created_at"],
                 "properties": {
                     "id": {"type": "integer", "minimum": 1},
                     "amount": {"type": "integer", "description": "KRW points"},
                     "type": {"type": "string", "enum": ["CHARGE", "PAY", "REFUND"]},
                     "balance_after": {"type": "integer", "minimum": 0},
                     "created_at": {"type": "string", "format": "date-time"}
                 }
             }},
             "page": {"type": "integer", "minimum": 1},
             "size": {"type": "integer", "minimum": 1, "maximum": 100},
             "total": {"type": "integer", "minimum": 0}
         }
     })},
    {"Concert", TK_JSON({
         "type": "object",
         "additionalProperties": false,
         "required": ["id", "title", "venue", "sale_opens_at"],
         "properties": {
             "id": {"type": "integer", "minimum": 1},
             "title": {"type": "string"},
             "venue": {"type": "string"},
             "sale_opens_at": {"type": "string", "format": "date-time"}
         }
     })},
    {"ConcertPage", TK_JSON({
         "type": "object",
         "additionalProperties": false,
         "required": ["items", "page", "size", "total"],
         "properties": {
             "items": {"type": "array", "items": {"$ref": "#/components/schemas/ConcertListItem"}},
             "page": {"type": "integer", "minimum": 1},
             "size": {"type": "integer", "minimum": 1, "maximum": 100},
             "total": {"type": "integer", "minimum": 0},
             "total_relation": {"type": "string", "enum": ["eq", "gte"],
                                "description": "search answers: eq when total is exact; gte when more than 100 concerts match and total is that cap (Elasticsearch's track_total_hits)"},
             "keyword": {"type": "string", "description": "the search's keyword (search answers only)"}
         }
     })},
    {"ConcertListItem", TK_JSON({
         "type": "object",
         "additionalProperties": false,
         "required": ["id", "title", "venue", "sale_opens_at"],
         "properties": {
             "id": {"type": "integer", "minimum": 1},
             "title": {"type": "string"},
             "venue": {"type": "string"},
             "sale_opens_at": {"type": "string", "format": "date-time"},
             "bookable": {"type": "boolean",
                          "description": "search answers: the sale has opened and a future show has seats left"},
             "next_show_at": {"type": "string", "format": "date-time", "nullable": true,
                              "description": "search answers: the next show, null when none is ahead"}
         }
     })},
    {"ConcertDetail", TK_JSON({
         "type": "object",
         "additionalProperties": false,
         "required": ["id", "title", "venue", "sale_opens_at", "schedules"],
         "properties": {
             "id": {"type": "integer", "minimum": 1},
             "title": {"type": "string"},
             "venue": {"type": "string"},
             "sale_opens_at": {"type": "string", "format": "date-time"},
             "schedules": {"type": "array", "items": {
                 "type": "object",
                 "additionalProperties": false,
                 "required": ["id", "starts_at", "total_seats", "available_seats", "on_sale"],
                 "properties": {
                     "id": {"type": "integer", "minimum": 1},
                     "starts_at": {"type": "string", "format": "date-time"},
                     "total_seats": {"type": "integer", "minimum": 0},
                     "available_seats": {"type": "integer", "minimum": 0, "description": "seats left"},
                     "on_sale": {"type": "boolean", "description": "the show is still ahead"}
                 }
             }}
         }
     })},
    {"Schedules", TK_JSON({
         "type": "object",
         "additionalProperties": false,
         "required": ["concert_id", "items"],
         "properties": {
             "concert_id": {"type": "integer", "minimum": 1},
             "items": {"type": "array", "items": {
                 "type": "object",
                 "additionalProperties": false,
                 "required": ["id", "starts_at", "total_seats", "available_seats"],
                 "properties": {
                     "id": {"type": "integer", "minimum": 1},
                     "starts_at": {"type": "string", "format": "date-time"},
                     "total_seats": {"type": "integer", "minimum": 0},
                     "available_seats": {"type": "integer", "minimum": 0}
                 }
             }}
         }
     })},
    {"Seats", TK_JSON({
         "type": "object",
         "additionalProperties": false,
         "required": ["schedule_id", "items"],
         "properties": {
             "schedule_id": {"type": "integer", "minimum": 1},
             "items": {"type": "array", "items": {
                 "type": "object",
                 "additionalProperties": false,
                 "required": ["id", "section", "row", "number", "grade", "price"],
                 "properties": {
                     "id": {"type": "integer", "minimum": 1},
                     "section": {"type": "string"},
                     "row": {"type": "string"},
                     "number": {"type": "integer", "minimum": 1},
                     "grade": {"$ref": "#/components/schemas/SeatGrade"},
                     "price": {"type": "integer", "minimum": 0, "description": "KRW points"}
                 }
             }}
         }
     })},
    {"SeatGrade", TK_JSON({"type": "string", "enum": ["VIP", "R", "S", "A"]})},
    {"HoldRequest", TK_JSON({
         "type": "object",
         "required": ["seat_id"],
         "properties": {"seat_id": {"type": "integer", "minimum": 1}}
     })},
    {"Reservation", TK_JSON({
         "type": "object",
         "additionalProperties": false,
         "required": ["id", "seat_id", "schedule_id", "price", "status", "expires_at", "created_at"],
         "properties": {
             "id": {"type": "integer", "minimum": 1},
             "seat_id": {"type": "integer", "minimum": 1},
             "schedule_id": {"type": "integer", "minimum": 1},
             "price": {"type": "integer", "minimum": 0, "description": "KRW points"},
             "status": {"type": "string", "enum": ["PENDING", "CONFIRMED", "CANCELED", "EXPIRED"]},
             "expires_at": {"type": "string", "format": "date-time", "description": "when the hold lapses"},
             "created_at": {"type": "string", "format": "date-time"}
         }
     })},
    {"ReservationPage", TK_JSON({
         "type": "object",
         "additionalProperties": false,
         "required": ["items", "page", "size", "total"],
         "properties": {
             "items": {"type": "array", "items": {"$ref": "#/components/schemas/Reservation"}},
             "page": {"type": "integer", "minimum": 1},
             "size": {"type": "integer", "minimum": 1, "maximum": 100},
             "total": {"type": "integer", "minimum": 0}
         }
     })},
    {"CanceledReservation", TK_JSON({
         "type": "object",
         "additionalProperties": false,
         "required": ["id", "seat_id", "schedule_id", "price", "status", "expires_at", "created_at", "refunded"],
         "properties": {
             "id": {"type": "integer", "minimum": 1},
             "seat_id": {"type": "integer", "minimum": 1},
             "schedule_id": {"type": "integer", "minimum": 1},
             "price": {"type": "integer", "minimum": 0},
             "status": {"type": "string", "enum": ["CANCELED"]},
             "expires_at": {"type": "string", "format": "date-time"},
             "created_at": {"type": "string", "format": "date-time"},
             "refunded": {"type": "integer", "minimum": 0, "description": "KRW points given back (0 for a hold)"}
         }
     })},
    {"PaymentRequest", TK_JSON({
         "type": "object",
         "required": ["reservation_id"],
         "properties": {"reservation_id": {"type": "integer", "minimum": 1}}
     })},
    {"Payment", TK_JSON({
         "type": "object",
         "additionalProperties": false,
         "required": ["id", "reservation_id", "amount", "status", "balance"],
         "properties": {
             "id": {"type": "integer", "minimum": 1},
             "reservation_id": {"type": "integer", "minimum": 1},
             "amount": {"type": "integer", "minimum": 0, "description": "KRW points paid"},
             "status": {"type": "string", "enum": ["COMPLETED"]},
             "balance": {"type": "integer", "minimum": 0, "description": "KRW points left"}
         }
     })},
    {"QueueStatus", TK_JSON({
         "type": "object",
         "additionalProperties": false,
         "required": ["schedule_id", "admitted", "position", "ahead", "estimated_wait_s", "poll_after_ms"],
         "properties": {
             "schedule_id": {"type": "integer", "minimum": 1},
             "admitted": {"type": "boolean"},
             "position": {"type": "integer", "minimum": 0, "description": "1-based place in line; 0 once admitted"},
             "ahead": {"type": "integer", "minimum": 0},
             "estimated_wait_s": {"type": "integer", "minimum": 0},
             "poll_after_ms": {"type": "integer", "minimum": 0, "description": "poll again after this many ms"},
             "arrival_no": {"type": "integer", "minimum": 1},
             "waiting": {"type": "integer", "minimum": 0, "description": "people in line (not yet admitted)"},
             "queueing": {"type": "string", "enum": ["fifo", "random"]},
             "admitted_until_ms": {"type": "integer", "description": "Unix ms when the admission lapses unless paid"},
             "admission_no": {"type": "integer", "minimum": 1},
             "token": {"type": "string", "description": "the signed queue token for X-Queue-Token"},
             "created": {"type": "boolean", "description": "false on re-entry (the place is kept)"}
         }
     })},
    {"QueueLeft", TK_JSON({
         "type": "object",
         "additionalProperties": false,
         "required": ["schedule_id", "left"],
         "properties": {
             "schedule_id": {"type": "integer", "minimum": 1},
             "left": {"type": "boolean", "enum": [true]}
         }
     })},
    {"Health", TK_JSON({
         "type": "object",
         "additionalProperties": false,
         "required": ["status", "strategy", "strategy_header"],
         "properties": {
             "status": {"type": "string", "enum": ["ok"]},
             "strategy": {"type": "string", "description": "the lock strategy of seat holds"},
             "strategy_header": {"type": "boolean", "description": "whether X-Lock-Strategy is taken"}
         }
     })},
    {"Readiness", TK_JSON({
         "type": "object",
         "additionalProperties": false,
         "required": ["status", "mariadb", "redis"],
         "properties": {
             "status": {"type": "string", "enum": ["ready", "degraded", "unavailable"]},
             "mariadb": {"type": "string", "enum": ["up", "down"]},
             "redis": {"type": "string", "enum": ["up", "down"]}
         }
     })},
    {"Html", TK_JSON({"type": "string", "description": "an HTML page for people"})},
    {"PrometheusText", TK_JSON({
         "type": "string",
         "description": "Prometheus text exposition format 0.0.4"
     })},
    {"OpenApiDocument", TK_JSON({
         "type": "object",
         "required": ["openapi", "info", "paths"],
         "properties": {
             "openapi": {"type": "string"},
             "info": {"type": "object"},
             "paths": {"type": "object"},
             "components": {"type": "object"}
         }
     })},
    /* the admin API (admin_routes.c) */
    {"AdminConcertCreate", TK_JSON({
         "type": "object",
         "required": ["title", "venue", "sale_opens_at"],
         "properties": {
             "title": {"type": "string", "minLength": 1, "maxLength": 200},
             "venue": {"type": "string", "minLength": 1, "maxLength": 200},
             "sale_opens_at": {"type": "string", "format": "date-time", "description": "UTC, ending in Z"}
         }
     })},
    {"AdminConcertUpdate", TK_JSON({
         "type": "object",
         "required": [],
         "description": "at least one of the fields",
         "properties": {
             "title": {"type": "string", "minLength": 1, "maxLength": 200},
             "venue": {"type": "string", "minLength": 1, "maxLength": 200},
             "sale_opens_at": {"type": "string", "format": "date-time"}
         }
     })},
    {"AdminConcertDeleted", TK_JSON({
         "type": "object",
         "additionalProperties": false,
         "required": ["deleted", "schedules"],
         "properties": {
             "deleted": {"type": "integer", "minimum": 1, "description": "the concert's id"},
             "schedules": {"type": "integer", "minimum": 0, "description": "schedules deleted with it"}
         }
     })},
    {"AdminScheduleCreate", TK_JSON({
         "type": "object",
         "required": ["starts_at"],
         "properties": {"starts_at": {"type": "string", "format": "date-time", "description": "in the future"}}
     })},
    {"AdminSchedule", TK_JSON({
         "type": "object",
         "additionalProperties": false,
         "required": ["id", "concert_id", "starts_at"],
         "properties": {
             "id": {"type": "integer", "minimum": 1},
             "concert_id": {"type": "integer", "minimum": 1},
             "starts_at": {"type": "string", "format": "date-time"}
         }
     })},
    {"AdminSeatsCreate", TK_JSON({
         "type": "object",
         "required": ["blocks"],
         "description": "or one block's fields at the top level; at most 20,000 seats in all",
         "properties": {"blocks": {"type": "array", "items": {
             "type": "object",
             "required": ["sections", "rows", "from", "to", "grade", "price"],
             "properties": {
                 "sections": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 8}},
                 "rows": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 8}},
                 "from": {"type": "integer", "minimum": 1, "maximum": 10000, "description": "first seat number"},
                 "to": {"type": "integer", "minimum": 1, "maximum": 10000, "description": "last seat number"},
                 "grade": {"$ref": "#/components/schemas/SeatGrade"},
                 "price": {"type": "integer", "minimum": 1, "maximum": 100000000, "description": "KRW points"}
             }
         }}}
     })},
    {"AdminSeatsCreated", TK_JSON({
         "type": "object",
         "additionalProperties": false,
         "required": ["schedule_id", "created"],
         "properties": {
             "schedule_id": {"type": "integer", "minimum": 1},
             "created": {"type": "integer", "minimum": 1}
         }
     })},
    {"AdminSeatsUpdate", TK_JSON({
         "type": "object",
         "required": ["seat_ids"],
         "description": "grade and/or price; every seat AVAILABLE, else 409 and nothing changes",
         "properties": {
             "seat_ids": {"type": "array", "items": {"type": "integer", "minimum": 1}},
             "grade": {"$ref": "#/components/schemas/SeatGrade"},
             "price": {"type": "integer", "minimum": 1, "maximum": 100000000}
         }
     })},
    {"AdminSeatsUpdated", TK_JSON({
         "type": "object",
         "additionalProperties": false,
         "required": ["schedule_id", "updated"],
         "properties": {
             "schedule_id": {"type": "integer", "minimum": 1},
             "updated": {"type": "integer", "minimum": 1}
         }
     })},
    {"AdminWaitingRoomSet", TK_JSON({
         "type": "object",
         "required": [],
         "description": "at least one of the fields; unset ones fall back to the serve flags",
         "properties": {
             "opens_at": {"type": "string", "format": "date-time"},
             "active_users": {"type": "integer", "minimum": 1, "maximum": 1000000},
             "new_users_per_minute": {"type": "integer", "minimum": 1, "maximum": 10000000}
         }
     })},
    {"AdminWaitingRoom", TK_JSON({
         "type": "object",
         "additionalProperties": false,
         "required": ["schedule_id", "opens_at", "active_users", "new_users_per_minute"],
         "properties": {
             "schedule_id": {"type": "integer", "minimum": 1},
             "opens_at": {"type": "string", "format": "date-time", "nullable": true},
             "active_users": {"type": "integer", "minimum": 1, "nullable": true},
             "new_users_per_minute": {"type": "integer", "minimum": 1, "nullable": true}
         }
     })},
    {"AdminPurged", TK_JSON({
         "type": "object",
         "additionalProperties": false,
         "required": ["purged"],
         "properties": {"purged": {"type": "boolean"}}
     })},
};
const size_t tk_napi_schemas = sizeof tk_api_schemas / sizeof tk_api_schemas[0];
