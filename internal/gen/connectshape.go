package gen

import (
	"google.golang.org/protobuf/compiler/protogen"
)

// The few call shapes in which Go output for connect-go v1 and v2
// differs (the connect= parameter). Under connect=v2 the import of
// connectPackage is rewritten to connect-go v2 ([Params.rewriteImport]),
// so identifiers both versions share (Code…, the generated Unimplemented
// handlers and clients) are written the same way; the rest goes through
// the adapter package ssotws/connectv2, which converts the runtime's v1
// errors and headers.

// callShape is how a generated handler method receives its request and
// returns its response.
type callShape struct {
	v2 bool
	// msg is the expression of the request message.
	msg string
}

func shapeOf(p *Params) callShape {
	if p.Connect == ConnectV2 {
		return callShape{v2: true, msg: "req"}
	}
	return callShape{msg: "req.Msg"}
}

// signature writes the method's first line: v1 wraps messages in
// connect.Request and connect.Response, v2 passes them bare.
func (c callShape) signature(g *protogen.GeneratedFile, recv, name, in, out string) {
	ctx := g.QualifiedGoIdent(contextPackage.Ident("Context"))
	if c.v2 {
		g.P("func (s *", recv, ") ", name, "(ctx ", ctx, ", req *", in, ") (*", out, ", error) {")
		return
	}
	g.P("func (s *", recv, ") ", name, "(ctx ", ctx, ", req *", connectPackage.Ident("Request"), "[", in, "]) (*",
		connectPackage.Ident("Response"), "[", out, "], error) {")
}

// header is the expression of the request headers, an http.Header.
func (c callShape) header(g *protogen.GeneratedFile) string {
	if c.v2 {
		return g.QualifiedGoIdent(connectv2Package.Ident("RequestHeader")) + "(ctx)"
	}
	return "req.Header()"
}

// err is the expression returning the runtime's error v.
func (c callShape) err(g *protogen.GeneratedFile, v string) string {
	if c.v2 {
		return g.QualifiedGoIdent(connectv2Package.Ident("Error")) + "(ctx, " + v + ")"
	}
	return v
}

// respond writes the return of the response message body.
func (c callShape) respond(g *protogen.GeneratedFile, body string) {
	if c.v2 {
		g.P("return ", body, ", nil")
		return
	}
	g.P("return ", connectPackage.Ident("NewResponse"), "(", body, "), nil")
}

// respondWithPosition writes the return of a read's response, with the
// read position pos in its headers.
func (c callShape) respondWithPosition(g *protogen.GeneratedFile, body, pos string) {
	if c.v2 {
		g.P(connectv2Package.Ident("SetResponseHeader"), "(ctx, ", pos, ".SetHeaders)")
		g.P("return ", body, ", nil")
		return
	}
	g.P("res := ", connectPackage.Ident("NewResponse"), "(", body, ")")
	g.P(pos, ".SetHeaders(res.Header())")
	g.P("return res, nil")
}

// genHandlerConstructorV2 declares New<Service>Handler for connect-go v2:
// a connect.Server with the given interceptors and the service
// registered, mounted with the runtime's request bounds, under the
// service's path.
func genHandlerConstructorV2(g *protogen.GeneratedFile, s *Service, sn serviceNames) {
	name := "New" + s.Proto.GoName + "Handler"
	register := protogen.GoIdent{GoName: "Register" + s.Proto.GoName + "Handler", GoImportPath: sn.Handler.GoImportPath}
	serviceName := protogen.GoIdent{GoName: s.Proto.GoName + "Name", GoImportPath: sn.Handler.GoImportPath}
	g.P("// ", name, " registers svc on a new connect-go v2 server with the given")
	g.P("// interceptors, as ", g.QualifiedGoIdent(register), " does, and returns the")
	g.P("// server's HTTP handler with ssot-ws's request bounds ([", connectv2Package.Ident("Handler"), "]) and")
	g.P("// the path to mount it on. An oversized request is refused with")
	g.P("// CodeResourceExhausted before it is decoded, so before any interceptor")
	g.P("// (authentication) runs. Mount it on a mux:")
	g.P("//")
	g.P("//\tmux.Handle(", name, "(svc, connectv2.NewAuthInterceptor(auth, nil)))")
	g.P("func ", name, "(svc ", sn.Handler, ", interceptors ...", connectPackage.Ident("ServerInterceptor"), ") (string, ", httpPackage.Ident("Handler"), ") {")
	g.P("server := ", connectPackage.Ident("NewServer"), "(interceptors...)")
	g.P(register, "(server, svc)")
	g.P(`return "/" + `, serviceName, ` + "/", `, connectv2Package.Ident("Handler"), "(server)")
	g.P("}")
	g.P()
}

// clientShape is how a generated client adapter calls the connect-go
// client and reads its response.
type clientShape struct {
	v2 bool
	// msg is the expression of the response message; header that of the
	// response headers.
	msg, header string
}

func clientShapeOf(p *Params) clientShape {
	if p.Connect == ConnectV2 {
		return clientShape{v2: true, msg: "res", header: "header"}
	}
	return clientShape{msg: "res.Msg", header: "res.Header()"}
}

// call is the statement calling method of a.c with the message in and
// the headers h. res names the response ("_" to drop it), assign is ":="
// or "="; with headers, the response headers are kept too (under v2 in
// the variable header).
func (c clientShape) call(g *protogen.GeneratedFile, res, assign, method, in string, headers bool) string {
	if c.v2 {
		h := "_"
		if headers {
			h = "header"
		}
		return res + ", " + h + ", err " + assign + " " + g.QualifiedGoIdent(connectv2Package.Ident("Unary")) + "(ctx, h, a.c." + method + ", " + in + ")"
	}
	return res + ", err " + assign + " a.c." + method + "(ctx, " + g.QualifiedGoIdent(clientPackage.Ident("NewRequest")) + "(" + in + ", h))"
}

// invalidKey writes the return of an InvalidArgument error for a key the
// adapter cannot parse; ret precedes the error, format and args are the
// fmt.Errorf arguments.
func (c clientShape) invalidKey(g *protogen.GeneratedFile, ret, errorf string) {
	if c.v2 {
		g.P("return ", ret, connectv2Package.Ident("InvalidArgument"), "(", fmtPackage.Ident("Errorf"), errorf, ")")
		return
	}
	g.P("return ", ret, connectPackage.Ident("NewError"), "(", connectPackage.Ident("CodeInvalidArgument"), ", ",
		fmtPackage.Ident("Errorf"), errorf, ")")
}
