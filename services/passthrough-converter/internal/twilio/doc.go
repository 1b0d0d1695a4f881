// Package twilio converts a forwarded Twilio Messaging webhook (an incoming
// SMS, MMS or WhatsApp message, form-encoded) into a normalized
// [events.MessageEvent].
//
// Like the discord package it is a pure function of the body bytes and the
// forward's metadata: no I/O, no clock, no logging, and nothing a body
// contains makes [Convert] panic. The connector has already verified the
// X-Twilio-Signature at its edge.
//
// Twilio's webhook parameters are documented at
// https://www.twilio.com/docs/messaging/guides/webhook-request. The ones read
// here: From, To, Body, MessageSid, NumMedia, MediaUrl<N>,
// MediaContentType<N> and, when present (WhatsApp), ProfileName. Others are
// ignored.
package twilio
