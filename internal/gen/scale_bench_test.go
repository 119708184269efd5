package gen

import (
	"fmt"
	"strings"
	"testing"

	gengo "google.golang.org/protobuf/cmd/protoc-gen-go/internal_gengo"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/types/pluginpb"
)

// scaleProto returns one proto file of n realtime models, each with the
// five standard methods, all in one service: the input of the generator
// benchmarks, which check that generation time grows linearly with it.
func scaleProto(n int) string {
	var b strings.Builder
	b.WriteString(`syntax = "proto3";

package scale.v1;

import "google/protobuf/empty.proto";
import "google/protobuf/field_mask.proto";
import "ssot/ws/v1/options.proto";

option go_package = "github.com/ssot-codegen/ssot-ws/internal/golden/scale/v1;scalev1";

`)
	b.WriteString("service ScaleService {\n")
	for i := range n {
		m := fmt.Sprintf("Thing%d", i)
		fmt.Fprintf(&b, "  rpc Get%[1]s(Get%[1]sRequest) returns (%[1]s);\n", m)
		fmt.Fprintf(&b, "  rpc List%[1]ss(List%[1]ssRequest) returns (List%[1]ssResponse);\n", m)
		fmt.Fprintf(&b, "  rpc Create%[1]s(Create%[1]sRequest) returns (%[1]s);\n", m)
		fmt.Fprintf(&b, "  rpc Update%[1]s(Update%[1]sRequest) returns (%[1]s);\n", m)
		fmt.Fprintf(&b, "  rpc Delete%[1]s(Delete%[1]sRequest) returns (google.protobuf.Empty);\n", m)
	}
	b.WriteString("}\n\n")
	for i := range n {
		m := fmt.Sprintf("Thing%d", i)
		plural := m + "s"
		fmt.Fprintf(&b, `message %[1]s {
  option (ssot.ws.v1.model) = {realtime: true scopes: ["group_id"]};
  string id = 1;
  string group_id = 2;
  string title = 3;
  int64 version = 4;
}
message Get%[1]sRequest { string id = 1; }
message List%[1]ssRequest { string group_id = 1; int32 page_size = 2; string page_token = 3; }
message List%[1]ssResponse { repeated %[1]s %[2]s = 1; string next_page_token = 2; }
message Create%[1]sRequest { %[1]s %[3]s = 1; }
message Update%[1]sRequest { %[1]s %[3]s = 1; google.protobuf.FieldMask update_mask = 2; }
message Delete%[1]sRequest { string id = 1; int64 version = 2; }

`, m, strings.ToLower(plural), strings.ToLower(m))
	}
	return b.String()
}

// scaleRequest compiles scaleProto(n) in-process into the request a
// plugin receives.
func scaleRequest(tb testing.TB, n int, param string) *pluginpb.CodeGeneratorRequest {
	tb.Helper()
	name := "scale/v1/scale.proto"
	return compileRequest(tb, "", map[string]string{name: scaleProto(n)}, []string{name}, param)
}

func benchmarkGenerate(b *testing.B, n int, param string) {
	req := scaleRequest(b, n, param)
	measure(b, n, func() {
		if _, err := run(req); err != nil {
			b.Fatal(err)
		}
	})
}

// measure runs op in b's loop and reports the elapsed and the CPU time
// (every thread: the GC's too) per model.
func measure(b *testing.B, n int, op func()) {
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		op()
	}
	cpu = cpuTime() - cpu
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/model")
	b.ReportMetric(float64(cpu)/float64(b.N)/float64(n), "cpu-ns/model")
}

const scaleGoParam = "module=github.com/ssot-codegen/ssot-ws"

// BenchmarkGenerate runs the plugin on one file of 500 and of 2,000
// models (five standard methods each): ns/model stays flat when
// generation is linear. protoc-gen-go runs on the same request, in-process
// as this plugin does, for comparison.
func BenchmarkGenerate(b *testing.B) {
	for _, n := range []int{500, 2000} {
		b.Run(fmt.Sprintf("lang=go/models=%d", n), func(b *testing.B) { benchmarkGenerate(b, n, scaleGoParam) })
		b.Run(fmt.Sprintf("lang=ts/models=%d", n), func(b *testing.B) { benchmarkGenerate(b, n, "lang=ts") })
	}
}

// BenchmarkProtocGenGo runs protoc-gen-go in-process on the requests of
// BenchmarkGenerate (lang=go's parameters), as its main does. It is a
// separate benchmark because protoc-gen-go v1.36 is itself super-linear on
// this input (about 4 s for 500 models, several minutes for 2,000).
func BenchmarkProtocGenGo(b *testing.B) {
	for _, n := range []int{500, 2000} {
		b.Run(fmt.Sprintf("models=%d", n), func(b *testing.B) { benchmarkProtocGenGo(b, n) })
	}
}

// benchmarkProtocGenGo runs what protoc-gen-go's main runs.
func benchmarkProtocGenGo(b *testing.B, n int) {
	req := scaleRequest(b, n, scaleGoParam)
	measure(b, n, func() {
		plugin, err := protogen.Options{}.New(req)
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range plugin.Files {
			if f.Generate {
				gengo.GenerateFile(plugin, f)
			}
		}
		if resp := plugin.Response(); resp.Error != nil {
			b.Fatal(resp.GetError())
		}
	})
}
