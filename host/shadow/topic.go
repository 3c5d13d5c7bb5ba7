package shadow

import (
	"context"
	"errors"
	"strings"
)

// Topic is a parsed shadow topic:
//
//	$aws/things/<Thing>/shadow/<Op>[/<Reply>]
//	$aws/things/<Thing>/shadow/name/<Name>/<Op>[/<Reply>]
type Topic struct {
	Thing string
	Name  string // "" for the classic shadow
	Op    Op
	Reply string // "" for a request; "accepted", "rejected", "delta" or "documents"
}

// String builds the topic.
func (t Topic) String() string {
	var b strings.Builder
	b.WriteString("$aws/things/")
	b.WriteString(t.Thing)
	b.WriteString("/shadow/")
	if t.Name != "" {
		b.WriteString("name/")
		b.WriteString(t.Name)
		b.WriteByte('/')
	}
	b.WriteString(string(t.Op))
	if t.Reply != "" {
		b.WriteByte('/')
		b.WriteString(t.Reply)
	}
	return b.String()
}

// ParseTopic parses a shadow request or reply topic; ok is false for any
// other topic. Names are not validated here (a request naming an invalid
// thing is rejected with a 400 on its …/rejected topic), but none may be
// empty.
func ParseTopic(topic string) (t Topic, ok bool) {
	rest, found := strings.CutPrefix(topic, "$aws/things/")
	if !found {
		return Topic{}, false
	}
	levels := strings.Split(rest, "/")
	if len(levels) < 3 || levels[0] == "" || levels[1] != "shadow" {
		return Topic{}, false
	}
	t.Thing = levels[0]
	levels = levels[2:]
	if levels[0] == "name" {
		if len(levels) < 3 || levels[1] == "" {
			return Topic{}, false
		}
		t.Name = levels[1]
		levels = levels[2:]
	}
	switch Op(levels[0]) {
	case OpGet, OpUpdate, OpDelete:
		t.Op = Op(levels[0])
	default:
		return Topic{}, false
	}
	switch len(levels) {
	case 1:
		return t, true
	case 2:
		t.Reply = levels[1]
		switch {
		case t.Reply == "accepted" || t.Reply == "rejected":
			return t, true
		case t.Op == OpUpdate && (t.Reply == "delta" || t.Reply == "documents"):
			return t, true
		}
	}
	return Topic{}, false
}

// HandleTopic serves one MQTT request published on a shadow request topic,
// as IoT Core would: it returns the messages to publish in reply, the
// …/accepted or …/rejected one first, then, after an update, update/delta
// (when desired and reported differ) and update/documents. ok is false, and
// nothing is done, if topic is not a shadow request topic. Requests are
// OriginLocal.
func (s *Service) HandleTopic(ctx context.Context, topic string, payload []byte) (replies []Message, ok bool) {
	t, ok := ParseTopic(topic)
	if !ok || t.Reply != "" {
		return nil, false
	}
	var r Reply
	var err error
	switch t.Op {
	case OpGet:
		r, err = s.Get(ctx, t.Thing, t.Name, payload)
	case OpUpdate:
		r, err = s.Update(ctx, t.Thing, t.Name, payload, OriginLocal)
	case OpDelete:
		r, err = s.Delete(ctx, t.Thing, t.Name, payload, OriginLocal)
	}
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = s.fail(err, "").(*Error)
		}
		t.Reply = "rejected"
		return []Message{{Topic: t.String(), Payload: e.Payload()}}, true
	}
	t.Reply = "accepted"
	return append([]Message{{Topic: t.String(), Payload: r.Payload}}, r.Messages...), true
}
