// LinkCheck uses the gobind Java bindings of client-sdk/mobile the way an
// Android app does (the README's Kotlin lines, in Java): `make lint`
// compiles it with the generated classes, so a renamed method or a
// changed signature fails the build here rather than in the app.
import dev.ruhu.mobile.Mobile;
import dev.ruhu.mobile.Store;
import dev.ruhu.mobile.SyncProgress;

final class LinkCheck {
	static String openAndSync(String dir, String password) throws Exception {
		Store store = Mobile.open(dir + "/tablet.db");
		try {
			store.login("https://ruhu.example.gov.cn", "wang", password);
			store.enroll("平板-王");
			store.setPIN("2468");
			store.lock();
			store.unlock("2468");
			store.renewKeyShare();
			String visit = store.save("visits", "", "340199001001", "{\"household_id\":\"h1\"}");
			String members = store.query("members", "{\"household_id\":\"h1\"}");
			byte[] jpeg = new byte[0];
			String photo = store.attachPhoto("{\"household_id\":\"h1\",\"stage\":\"before\"}", jpeg);
			String signature = store.captureSignature("{\"signer_name\":\"周桂芳\",\"signer_role\":\"household_head\"}");
			String report = store.sync(false, new SyncProgress() {
				@Override public void onProgress(String phase, long done, long total) {
					System.out.println(phase + " " + done + "/" + total);
				}
			});
			store.cancel();
			return visit + members + photo + signature + report + store.status() + store.rejected() + store.keyState() + store.get("visits", "v1")
				+ Mobile.PhasePush + Mobile.PhasePull + Mobile.PhaseFiles;
		} finally {
			store.close();
		}
	}
}
