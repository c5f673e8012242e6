// The one class of the Android SDK that gobind's go.Seq support class
// names (Seq.setContext). An app compiles against android.jar, which has
// the real one; `make lint` compiles the generated bindings with this
// stand-in because no Android SDK is installed here.
package android.content;

public abstract class Context {}
