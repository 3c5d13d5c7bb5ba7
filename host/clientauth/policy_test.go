package clientauth

import (
	"errors"
	"strings"
	"testing"
)

const sensorPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": "iot:Connect",
      "Resource": "arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"
    },
    {
      "Sid": "own",
      "Effect": "Allow",
      "Action": ["iot:Publish", "iot:Receive"],
      "Resource": "arn:aws:iot:us-east-1:123456789012:topic/sensors/${iot:ClientId}/*"
    },
    {
      "Effect": "Allow",
      "Action": "iot:Subscribe",
      "Resource": "arn:aws:iot:*:*:topicfilter/sensors/*"
    },
    {
      "Sid": "noSecrets",
      "Effect": "Deny",
      "Action": "iot:*",
      "Resource": "arn:aws:iot:*:*:topic*/sensors/secret*"
    }
  ]
}`

func mustPolicy(t *testing.T, name, doc string) *Policy {
	t.Helper()
	p, err := ParsePolicy(name, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEvaluate(t *testing.T) {
	p := []*Policy{mustPolicy(t, "sensor.json", sensorPolicy)}
	cases := []struct {
		thing, client string
		action        Action
		resource      string
		allow         bool
		stmt          int
	}{
		{"sensor-1", "sensor-1", Connect, "client/sensor-1", true, 0},
		{"sensor-1", "sensor-2", Connect, "client/sensor-2", false, -1}, // variable is the thing name
		{"sensor-1", "sensor-1", Publish, "topic/sensors/sensor-1/temp", true, 1},
		{"sensor-1", "sensor-1", Publish, "arn:aws:iot:eu-west-1:999:topic/sensors/sensor-1/temp", true, 1},
		{"sensor-1", "sensor-1", Publish, "topic/sensors/sensor-2/temp", false, -1},
		{"sensor-1", "sensor-1", RetainPublish, "topic/sensors/sensor-1/temp", false, -1},
		{"sensor-1", "sensor-1", Subscribe, "topicfilter/sensors/+/temp", true, 2},
		{"sensor-1", "sensor-1", Subscribe, "topicfilter/#", false, -1},
		{"sensor-1", "sensor-1", Subscribe, "topicfilter/sensors/secret/#", false, 3}, // explicit deny wins
		{"sensor-1", "*", Publish, "topic/sensors/x/temp", false, -1},                 // '*' in a value is literal
	}
	for _, c := range cases {
		d := Evaluate(p, Request{Thing: c.thing, ClientID: c.client, Action: c.action, Resource: c.resource})
		if d.Allowed != c.allow || d.Statement != c.stmt {
			t.Errorf("%s %s %s: got %v (statement %d), want allow=%v statement %d", c.client, c.action, c.resource, d, d.Statement, c.allow, c.stmt)
		}
	}
	d := Evaluate(p, Request{Thing: "sensor-1", ClientID: "sensor-1", Action: Subscribe, Resource: "topicfilter/sensors/secret"})
	if got := d.String(); got != `deny: explicitly denied by sensor.json statement 3 (Sid "noSecrets") at line 20` {
		t.Errorf("explanation: %s", got)
	}
	if got := Evaluate(nil, Request{Action: Connect, Resource: "client/x"}).String(); !strings.Contains(got, "default deny") {
		t.Errorf("no policy: %s", got)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	cases := []struct{ doc, want string }{
		{``, "p.json:1:1: unexpected end of document"},
		{`[]`, "p.json:1:1: a policy is a JSON object"},
		{"{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": {\"Effect\": \"Allow\", \"Action\": \"iot:Publish\", \"Resource\": 7}\n}", "p.json:3:73: expected a string or an array of strings"},
		{"{\"Statement\": {\"Effect\": \"allow\"}}", `p.json:1:26: Effect "allow": want "Allow" or "Deny"`},
		{"{\"Statement\": {\"Effect\": \"Allow\", \"Action\": \"iot:Pub\", \"Resource\": \"*\"}}", `p.json:1:45: Action "iot:Pub"`},
		{"{\"Statement\": {\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"topic/a\"}}", `not an ARN`},
		{"{\"Statement\": {\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"arn:aws:iot:*:*:topic/${iot:Connection.Thing.Attributes[x]}\"}}", `policy variable ${iot:Connection.Thing.Attributes[x]} is not known`},
		{"{\"Statement\": {\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\", \"Condition\": {}}}", `p.json:1:67: Condition is not supported`},
		{"{\"Statement\": {\"Effect\": \"Allow\", \"Resource\": \"*\"}}", `p.json:1:15: statement has no Action`},
		{"{\"Statement\": []}", `no Statement`},
		{"{\"Version\": \"2008-10-17\", \"Statement\": []}", `Version "2008-10-17"`},
		{"{\"Statement\": {\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"}} {}", `p.json:1:68: data after the policy object`},
		{"{\"Statement\": {\"Effect\": \"Allow\",\n \"Action\": \"*\" \"Resource\": \"*\"}}", `p.json:2:16: invalid character '"' after object key:value pair`},
	}
	for _, c := range cases {
		_, err := ParsePolicy("p.json", []byte(c.doc))
		var pe *PolicyError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.doc, err, c.want)
		}
	}
}

func TestRule(t *testing.T) {
	r, err := ParseRule("thingName: sensor-* OR thingName: gate")
	if err != nil {
		t.Fatal(err)
	}
	for thing, want := range map[string]bool{"sensor-1": true, "gate": true, "gate-2": false, "xsensor-1": false} {
		if r.Match(thing) != want {
			t.Errorf("%s: want %v", thing, want)
		}
	}
	for _, bad := range []string{"", "name: x", "thingName:", "thingName: a?"} {
		if _, err := ParseRule(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(sensorPolicy))
	f.Add([]byte(`{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}`))
	f.Add([]byte(`{"Statement":[{"Effect":"Allow","Action":["iot:Connect"],"Resource":["arn:aws:iot:*:*:client/${iot:ClientId}"]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy("f.json", data)
		if err != nil {
			var pe *PolicyError
			if !errors.As(err, &pe) || pe.Line < 1 || pe.Col < 1 {
				t.Fatalf("error without position: %v", err)
			}
			return
		}
		for _, st := range p.Statements {
			if len(st.Actions) == 0 || len(st.Resources) == 0 {
				t.Fatalf("statement without action or resource accepted: %+v", st)
			}
		}
		Evaluate([]*Policy{p}, Request{Thing: "t", ClientID: "c", Action: Publish, Resource: "topic/a/b"})
	})
}
