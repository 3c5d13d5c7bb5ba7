// Command secretreader is a test component: on each message on secret/read
// it reads the secret "db-password" (granted) and publishes it on
// secret/out, then tries "root-password" (not granted) and publishes the
// error text on secret/denied.
package main

import (
	moss "github.com/moss-edge/moss/sdk/go"
)

func init() { moss.OnStart(start) }

func main() {}

func start() error {
	_, err := moss.Subscribe("secret/read", func(moss.Message) {
		v, err := moss.GetSecret("db-password")
		if err != nil {
			moss.Publish("secret/out", []byte("error: "+err.Error()))
		} else {
			moss.Publish("secret/out", v)
		}
		if _, err := moss.GetSecret("root-password"); err != nil {
			moss.Publish("secret/denied", []byte(err.Error()))
		}
	})
	return err
}
